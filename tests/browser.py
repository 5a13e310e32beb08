"""A real browser for the tests: Debian's Chromium driven by playwright (never a downloaded
browser: ``playwright install`` is not used anywhere).

``Browser.visit(url)`` loads a page and reports what a reader's browser would have done with
it: dialogs (alert/confirm/prompt, each dismissed), uncaught script errors, console errors,
every request to a host other than the loopback addresses (aborted, so nothing leaves the
machine even if a page tries), and every link whose scheme is not http, https or mailto as the
browser itself resolves it (``a.href``: the WHATWG URL parser drops tabs and newlines, so
``java\\tscript:`` reads as ``javascript:``), and every ``on*`` event handler attribute. Then
it clicks every link of another scheme, one at a time, with every navigation answered
``204 No Content`` by the route (a 204 leaves the page where it is, RFC 9110 section
15.3.5), so a script URL that slipped through fires its dialog here. (An http(s) or mailto
link runs no script when clicked, short of an event handler, which is reported by itself.)

The browser also resolves no host name but the loopback ones (``--host-resolver-rules``), so
not even a DNS prefetch for a link leaves the machine.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "::1", "[::1]", "localhost"}
LINK_SCHEMES = {"http", "https", "mailto"}
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--dns-prefetch-disable",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--no-pings",
]


HANDLERS_JS = """() => [...document.querySelectorAll('*')].flatMap(
    e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name)
)"""


def chromium_path() -> str | None:
    """``NEWSFLOW_CHROMIUM`` (set by .ci/run), else Debian's ``chromium`` on PATH."""
    path = os.environ.get("NEWSFLOW_CHROMIUM") or shutil.which("chromium")
    return path if path and os.access(path, os.X_OK) else None


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True  # never a network request
    return (parts.hostname or "") in LOOPBACK


@dataclass
class PageReport:
    url: str
    status: int | None = None
    dialogs: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    bad_links: list[str] = field(default_factory=list)  # resolved hrefs of another scheme
    handlers: list[str] = field(default_factory=list)  # on* attributes: "TAG onclick"
    links: list[str] = field(default_factory=list)  # every resolved href
    alternates: list[str] = field(default_factory=list)  # <link rel=alternate> hrefs
    h1: str | None = None
    title: str | None = None

    def problems(self) -> list[str]:
        found = []
        if self.status != 200:
            found.append(f"page answered {self.status}")
        found += [f"dialog {m!r}" for m in self.dialogs]
        found += [f"script error {m!r}" for m in self.script_errors]
        found += [f"console error {m!r}" for m in self.console_errors]
        found += [f"request left the machine: {u!r}" for u in self.outside_requests]
        found += [f"link with a script-capable scheme: {u!r}" for u in self.bad_links]
        found += [f"event handler attribute: {h}" for h in self.handlers]
        return found


class Browser:
    """One Chromium for the session; one context and page per visit."""

    def __init__(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )

    def close(self) -> None:
        self._browser.close()
        self._playwright.stop()

    def visit(self, url: str, click_links: bool = True) -> PageReport:
        report = PageReport(url)
        context = self._browser.new_context(service_workers="block")
        state = {"loading": True}
        context.route("**/*", lambda route: self._route(route, report, state))
        try:
            page = self._open(context, url, report, state)
            self._read(page, report)
            if click_links and report.status == 200:
                self._click_every_link(page, lambda: self._open(context, url, report, state))
        finally:
            context.close()
        return report

    @staticmethod
    def _open(context, url: str, report: PageReport, state: dict):
        """A new page on ``url``, every event of it reported."""
        state["loading"] = True
        page = context.new_page()
        page.on("popup", lambda popup: popup.close())  # nothing opens a window on us
        page.on("dialog", lambda d: (report.dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda exc: report.script_errors.append(str(exc)))
        page.on("console", lambda msg: _console(msg, report, state))
        page.on("websocket", lambda ws: report.outside_requests.append(ws.url))
        response = page.goto(url, wait_until="load", timeout=30_000)
        if report.status is None:
            report.status = response.status if response else None
        state["loading"] = False
        return page

    @staticmethod
    def _route(route, report: PageReport, state: dict) -> None:
        request = route.request
        if request.is_navigation_request() and not state["loading"]:
            route.fulfill(status=204)  # a clicked link, wherever it points: stay on the page
        elif not is_loopback(request.url):
            report.outside_requests.append(request.url)
            route.abort()
        else:
            route.continue_()

    @staticmethod
    def _read(page, report: PageReport) -> None:
        report.links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        report.bad_links = [h for h in report.links if _scheme(h) not in LINK_SCHEMES]
        report.alternates = page.eval_on_selector_all(
            "link[rel=alternate][href]", "els => els.map(e => e.href)"
        )
        report.handlers = page.evaluate(HANDLERS_JS)
        report.h1 = page.evaluate("() => document.querySelector('h1')?.textContent ?? null")
        report.title = page.title()

    @staticmethod
    def _click_every_link(page, reopen) -> None:
        from playwright.sync_api import Error as PlaywrightError

        schemes = page.eval_on_selector_all(
            "a[href]", "els => els.map(e => e.href.split(':')[0].toLowerCase())"
        )
        # An http(s) link cannot run script when clicked (an on* attribute could, and is
        # reported by itself); clicking one can leave the page for an error page, so only
        # the links of other schemes are clicked.
        for i in [i for i, scheme in enumerate(schemes) if scheme not in LINK_SCHEMES]:
            # A javascript: URL runs in a task queued by the click, so the promise resolves
            # one task later: by then a dialog it opened has been reported.
            try:
                page.evaluate(
                    """i => new Promise(done => {
                        const a = document.querySelectorAll('a[href]')[i];
                        if (a) a.click();
                        setTimeout(done, 0);
                    })""",
                    i,
                )
            except PlaywrightError:
                # The click left the page without a request the route could answer (an
                # invalid URL's error page, a javascript: URL whose value replaced the
                # document): open the page again and go on with the next link.
                page.close()
                page = reopen()


def _scheme(href: str) -> str:
    return href.split(":", 1)[0].lower() if ":" in href else ""


def _console(msg, report: PageReport, state: dict) -> None:
    # A resource that failed to load (an aborted off-site request, a 404) is reported as a
    # request, not as a script error; clicks cause messages of the browser's own.
    if msg.type != "error" or not state["loading"]:
        return
    if msg.text.startswith("Failed to load resource"):
        return
    report.console_errors.append(msg.text)
