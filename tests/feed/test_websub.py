"""WebSub: discovery headers, the feed service as its own hub, verification of intent and
content distribution, over the real stack with a pytest-httpserver subscriber on 127.0.0.1
(FETCH_ALLOW_HOSTS lets the worker call it). The address and secret decisions are also
tested where they are made, with an injected resolver, so no test needs another address."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feed import websub
from render import delivery, notify
from shared import migrate
from shared.db import make_engine, make_sessionmaker
from shared.models import WebSubSubscription, utcnow
from shared.settings import Settings
from tests.feed.test_serving import published

ERROR_KEYS = {"error", "detail", "field"}


# --- a subscriber -----------------------------------------------------------------------


class Subscriber:
    """A WebSub subscriber at one path of the test's HTTP server: records what it gets."""

    def __init__(self, httpserver, path: str, echo: bool = True, status: int = 204) -> None:
        self.url = f"http://127.0.0.1:{httpserver.port}{path}"
        self.echo, self.status = echo, status
        self.verifications: list[dict] = []
        self.deliveries: list[tuple[dict, bytes]] = []
        self._lock = threading.Lock()
        httpserver.expect_request(path).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        with self._lock:
            if request.method == "GET":
                self.verifications.append(dict(request.args))
                challenge = request.args.get("hub.challenge", "")
                return Response(challenge if self.echo else "no, thanks", 200)
            self.deliveries.append((dict(request.headers), request.get_data()))
            return Response(b"", self.status)

    def wait(self, what: str, count: int = 1, timeout: float = 30) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = getattr(self, what)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{self.url} got {len(getattr(self, what))} {what}, not {count}")


def hub_post(stack, **params) -> requests.Response:
    data = {f"hub.{k}": v for k, v in params.items() if v is not None}
    return requests.post(f"{stack.feed}/hub", data=data, timeout=10)


def subscription(stack, callback: str):
    with stack.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT * FROM websub_subscriptions WHERE callback = :c"), {"c": callback}
        ).first()


def wait_subscription(stack, callback: str, present: bool = True, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = subscription(stack, callback)
        if (row is not None) == present:
            return row
        time.sleep(0.05)
    raise AssertionError(f"subscription of {callback} is {'missing' if present else 'still there'}")


def subscribe(stack, topic: str, sub: Subscriber, secret: str | None = None):
    resp = hub_post(stack, mode="subscribe", topic=topic, callback=sub.url, secret=secret)
    assert resp.status_code == 202, resp.text
    return wait_subscription(stack, sub.url)


@pytest.fixture
def hub(stack, httpserver):
    """The stack, with every subscription a test made removed after it."""
    yield stack
    with stack.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM websub_subscriptions"))


def region_feed(stack) -> tuple[str, str]:
    """A feed of its own for one test (region name, topic URL), with one article in it."""
    region = f"订阅{uuid.uuid4().hex[:8]}"
    path = requests.utils.quote(f"/feeds/region/{region}.atom")
    article_id = published(stack, places=[{"name": region}])
    stack.wait_feed(path, lambda b: article_id.encode() in b)
    return region, f"{stack.settings.public_base_url}{path}"


def publish_in(stack, region: str, topic: str) -> str:
    article_id = published(stack, places=[{"name": region}])
    path = topic.removeprefix(stack.settings.public_base_url)
    stack.wait_feed(path, lambda b: article_id.encode() in b)
    return article_id


# --- discovery --------------------------------------------------------------------------


def test_feed_answers_name_the_hub_and_themselves_in_link_headers(stack):
    region = f"发现{uuid.uuid4().hex[:6]}"
    published(stack, places=[{"name": region}])
    base = stack.settings.public_base_url
    resp = requests.get(f"{stack.feed}/feeds/all.atom", timeout=10)
    assert resp.links["hub"]["url"] == stack.settings.websub_hub_url == f"{base}/hub"
    assert resp.links["self"]["url"] == f"{base}/feeds/all.atom"
    assert resp.headers["Link"] == f'<{base}/hub>; rel="hub", <{base}/feeds/all.atom>; rel="self"'

    path = requests.utils.quote(f"/feeds/region/{region}.json")
    stack.wait_feed(path, lambda b: b"items" in b)
    cjk = requests.get(f"{stack.feed}{path}", timeout=10)
    assert cjk.links["self"]["url"] == f"{base}{path}"  # percent-encoded, as sent
    assert cjk.headers["Link"].isascii()
    again = requests.get(
        f"{stack.feed}{path}", headers={"If-None-Match": cjk.headers["ETag"]}, timeout=10
    )
    assert again.status_code == 304 and again.links["hub"]["url"] == f"{base}/hub"
    head = requests.head(f"{stack.feed}/feeds/all.rss", timeout=10)
    assert head.links["self"]["url"] == f"{base}/feeds/all.rss"


# --- bad requests -----------------------------------------------------------------------


ALL = "{base}/feeds/all.atom"
SUB = {"mode": "subscribe", "topic": ALL}


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({**SUB, "topic": "{base}/feeds/region/nowhere-{uid}.atom"}, 404, "hub.topic"),
        ({**SUB, "topic": "http://example.org/feed.atom"}, 400, "hub.topic"),
        ({**SUB, "topic": "{base}/articles/x"}, 400, "hub.topic"),
        ({"mode": "subscribe"}, 400, "hub.topic"),
        ({**SUB, "mode": "follow"}, 400, "hub.mode"),
        ({**SUB, "mode": "publish"}, 400, "hub.mode"),
        ({"topic": ALL}, 400, "hub.mode"),
        ({**SUB, "callback": None}, 400, "hub.callback"),
        ({**SUB, "callback": "ftp://x/"}, 400, "hub.callback"),
        ({**SUB, "lease_seconds": "soon"}, 400, "hub.lease_seconds"),
        ({**SUB, "secret": "s" * 200}, 400, "hub.secret"),
    ],
)
def test_a_bad_hub_request_is_a_4xx_json_error_naming_the_field(hub, params, status, field):
    published(hub)  # all.atom exists
    base = hub.settings.public_base_url
    params = {k: v.format(base=base, uid=uuid.uuid4().hex) if v else v for k, v in params.items()}
    params.setdefault("callback", "http://127.0.0.1:9/cb")
    resp = hub_post(hub, **params)
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == ERROR_KEYS and body["detail"]
    assert body["field"] == field


def test_a_hub_request_that_is_not_form_encoded_is_refused(hub):
    resp = requests.post(f"{hub.feed}/hub", json={"hub.mode": "subscribe"}, timeout=10)
    assert resp.status_code == 415
    assert set(resp.json()) == ERROR_KEYS


# --- verification, distribution, unsubscription ------------------------------------------


def test_subscribe_verify_and_receive_signed_content(hub, httpserver):
    region, topic = region_feed(hub)
    sub = Subscriber(httpserver, "/signed")
    secret = f"s3cret-{uuid.uuid4().hex}"

    row = subscribe(hub, topic, sub, secret=secret)
    check = sub.verifications[0]
    assert check["hub.mode"] == "subscribe"
    assert check["hub.topic"] == topic
    assert check["hub.challenge"]
    assert check["hub.lease_seconds"] == str(websub.LEASE_DEFAULT)
    assert row.topic == topic and row.secret == secret

    article_id = publish_in(hub, region, topic)
    headers, body = sub.wait("deliveries")[-1]
    assert article_id.encode() in body
    assert body == requests.get(f"{hub.feed}{topic.removeprefix(hub.feed)}", timeout=10).content
    assert headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert f'<{hub.settings.websub_hub_url}>; rel="hub"' in headers["Link"]
    assert f'<{topic}>; rel="self"' in headers["Link"]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature"] == f"sha256={expected}"


def test_unsubscribed_and_expired_subscribers_get_nothing(hub, httpserver):
    region, topic = region_feed(hub)
    leaving, lapsed, staying = (Subscriber(httpserver, p) for p in ("/leaving", "/lapsed", "/stay"))
    for sub in (leaving, lapsed, staying):
        row = subscribe(hub, topic, sub)
        assert row.secret is None

    resp = hub_post(hub, mode="unsubscribe", topic=topic, callback=leaving.url)
    assert resp.status_code == 202, resp.text
    assert leaving.wait("verifications", 2)[-1]["hub.mode"] == "unsubscribe"
    wait_subscription(hub, leaving.url, present=False)
    with hub.engine.begin() as conn:  # the lease ran out
        conn.execute(
            sa.text("UPDATE websub_subscriptions SET expires_at = :t WHERE callback = :c"),
            {"t": "2000-01-01 00:00:00", "c": lapsed.url},
        )

    publish_in(hub, region, topic)
    staying.wait("deliveries")
    time.sleep(1.0)  # the other deliveries would have been sent together with this one
    assert leaving.deliveries == [] and lapsed.deliveries == []
    assert subscription(hub, lapsed.url) is None  # removed, not just skipped


def test_a_subscriber_that_does_not_echo_the_challenge_stays_inactive(hub, httpserver):
    _, topic = region_feed(hub)
    sub = Subscriber(httpserver, "/mute", echo=False)
    resp = hub_post(hub, mode="subscribe", topic=topic, callback=sub.url)
    assert resp.status_code == 202
    sub.wait("verifications")
    time.sleep(1.0)  # the worker has had its answer; give it time to (not) store it
    assert subscription(hub, sub.url) is None


@pytest.fixture
def threaded_server():
    """A subscriber that answers two verifications at once (pytest-httpserver's default
    server answers one request at a time)."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def test_an_unsubscribe_verified_first_is_not_undone_by_the_slower_subscribe(hub, threaded_server):
    # The subscriber confirms its subscribe slowly and its unsubscribe at once; the worker's
    # two processes verify both at the same time, and the unsubscribe, the newer request,
    # must win although the subscribe's verification ends last.
    _region, topic = region_feed(hub)
    asked: list[str] = []

    def handle(request: Request) -> Response:
        asked.append(request.args["hub.mode"])
        if request.args["hub.mode"] == "subscribe":
            time.sleep(2)
        return Response(request.args["hub.challenge"], 200)

    threaded_server.expect_request("/slow").respond_with_handler(handle)
    callback = f"http://127.0.0.1:{threaded_server.port}/slow"
    assert hub_post(hub, mode="subscribe", topic=topic, callback=callback).status_code == 202
    deadline = time.monotonic() + 30
    while "subscribe" not in asked and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub_post(hub, mode="unsubscribe", topic=topic, callback=callback).status_code == 202
    while len(asked) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert asked == ["subscribe", "unsubscribe"]
    time.sleep(3)  # the subscribe's verification has ended by now
    assert subscription(hub, callback) is None


def test_a_410_from_the_subscriber_removes_the_subscription(hub, httpserver):
    region, topic = region_feed(hub)
    sub = Subscriber(httpserver, "/gone", status=410)
    subscribe(hub, topic, sub)
    publish_in(hub, region, topic)
    sub.wait("deliveries")
    wait_subscription(hub, sub.url, present=False)
    assert len(sub.deliveries) == 1


# --- the decisions, where they are made (no stack, no network) ----------------------------


def loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


BASE = "https://news.example"


def decide(allow_hosts=(), resolver=public, secure=False, **form):
    form = {f"hub.{k}": v for k, v in form.items()}
    return websub.check_request(
        form,
        base=BASE,
        allow_hosts=allow_hosts,
        topic_exists=lambda key, fmt: True,
        secure=secure,
        resolver=resolver,
    )


def test_the_hub_refuses_a_loopback_callback_without_the_allowlist():
    with pytest.raises(websub.HubError) as err:
        decide(mode="subscribe", topic=f"{BASE}/feeds/all.atom", callback="http://cb.test/x",
               resolver=loopback)  # fmt: skip
    assert err.value.field == "hub.callback" and "loopback" in err.value.detail
    ok = decide(mode="subscribe", topic=f"{BASE}/feeds/all.atom", callback="http://cb.test/x",
                resolver=loopback, allow_hosts={"cb.test"})  # fmt: skip
    assert ok.callback == "http://cb.test/x"


def test_the_hub_reads_topics_and_clamps_leases():
    req = decide(
        mode="subscribe",
        topic=f"{BASE}/feeds/region/%E5%86%85%E8%92%99.rss",
        callback="https://cb.test/x",
        lease_seconds="5",
    )
    assert (req.feed_key, req.fmt, req.lease_seconds) == ("region/内蒙", "rss", websub.LEASE_MIN)
    req = decide(mode="subscribe", topic=f"{BASE}/feeds/all.json", callback="https://cb.test/",
                 lease_seconds="99999999999")  # fmt: skip
    assert req.lease_seconds == websub.LEASE_MAX
    for bad in (f"{BASE}/feeds/../x.atom", f"{BASE}/feeds/all.html", f"{BASE}/feeds/all.atom?x=1"):
        with pytest.raises(websub.HubError):
            decide(mode="subscribe", topic=bad, callback="https://cb.test/")


def test_a_secret_only_over_https_or_to_an_allowlisted_host():
    form = {"mode": "subscribe", "topic": f"{BASE}/feeds/all.atom", "secret": "k"}
    with pytest.raises(websub.HubError) as err:
        decide(callback="http://cb.test/x", **form)
    assert err.value.field == "hub.secret"
    assert decide(callback="https://cb.test/x", **form).secret == "k"
    assert decide(callback="http://cb.test/x", secure=True, **form).secret == "k"
    assert decide(callback="http://cb.test/x", allow_hosts={"cb.test"}, **form).secret == "k"


def worker_ctx(hub_url: str | None = None, allow_hosts=frozenset()):
    settings = Settings(
        data_dir=Path("/nonexistent"),
        database_url="sqlite://",
        redis_url="redis://127.0.0.1:1/0",
        public_base_url=BASE,
        websub_hub_url=hub_url or f"{BASE}/hub",
        fetch_allow_hosts=frozenset(allow_hosts),
    )
    return SimpleNamespace(settings=settings)


def test_the_worker_refuses_a_loopback_callback_without_the_allowlist(httpserver):
    httpserver.expect_request("/x").respond_with_data("anything")
    verified = notify.verify(
        worker_ctx(), "subscribe", "all", "atom", f"{BASE}/feeds/all.atom",
        f"http://cb.test:{httpserver.port}/x", 3600, None, resolver=loopback,
    )  # fmt: skip
    assert verified is False
    assert httpserver.log == []  # refused at the decision point, before any connection


def test_a_callback_is_called_on_the_address_its_check_resolved(httpserver):
    # cb.test has no DNS entry: the request can only arrive if the connection goes to the
    # address the injected resolver gave the guard, and the name is looked up once.
    lookups = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    httpserver.expect_request("/x").respond_with_data("not the challenge")
    verified = notify.verify(
        worker_ctx(allow_hosts={"cb.test"}), "subscribe", "all", "atom",
        f"{BASE}/feeds/all.atom", f"http://cb.test:{httpserver.port}/x?id=1", 3600, None,
        resolver=resolver,
    )  # fmt: skip
    assert verified is False  # the challenge was not echoed
    ((request, _),) = httpserver.log
    assert request.headers["Host"] == f"cb.test:{httpserver.port}"
    assert request.args["id"] == "1" and request.args["hub.mode"] == "subscribe"
    assert lookups == ["cb.test"]


@pytest.fixture
def dripping_callback():
    """A subscriber that answers 200 and then sends its body one byte every 0.2 s, each
    byte well within the read timeout, for as long as the connection stays open."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n")
                try:
                    while not stop.is_set():
                        conn.sendall(b"x")
                        time.sleep(0.2)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_a_subscriber_dripping_its_reply_does_not_hold_the_worker(dripping_callback, monkeypatch):
    monkeypatch.setattr(delivery, "REPLY_DEADLINE_S", 1.0)
    started = time.monotonic()
    verified = notify.verify(
        worker_ctx(allow_hosts={"cb.test"}), "subscribe", "all", "atom",
        f"{BASE}/feeds/all.atom", f"http://cb.test:{dripping_callback}/x", 3600, None,
        resolver=loopback,
    )  # fmt: skip
    assert verified is False
    assert time.monotonic() - started < 5  # not the 4,000 bytes x 0.2 s it would drip


def test_a_rebuild_notifies_only_when_someone_is_told(tmp_path):
    url = f"sqlite:///{tmp_path / 'n.db'}"
    migrate.upgrade(url)
    ctx = worker_ctx()
    ctx.readers = make_sessionmaker(make_engine(url))
    assert notify.worth_notifying(worker_ctx("http://hub.example/"), "all")  # outside hub
    assert not notify.worth_notifying(ctx, "all")  # our hub, nobody subscribed
    with ctx.readers.begin() as session:
        session.add(
            WebSubSubscription(
                id="x" * 64, topic=f"{BASE}/feeds/all.atom", feed_key="all", fmt="atom",
                callback="https://cb.test/", lease_seconds=60, verified_at=utcnow(),
                expires_at=utcnow(),  # expired counts: the notification removes it
            )
        )  # fmt: skip
    assert notify.worth_notifying(ctx, "all")
    assert not notify.worth_notifying(ctx, "region/内蒙")


def test_an_outside_hub_is_pinged_instead_of_delivering(httpserver):
    hub_url = f"http://127.0.0.1:{httpserver.port}/publish"
    httpserver.expect_request("/publish", method="POST").respond_with_data("", status=204)
    ctx = worker_ctx(hub_url)
    assert not notify.own_hub(ctx.settings) and notify.own_hub(worker_ctx().settings)
    sent = notify.feed_updated(ctx, "region/内蒙", ["atom", "rss"], send=None)
    assert sent == 2
    forms = [req.form.to_dict() for req, _ in httpserver.log]
    assert forms == [
        {"hub.mode": "publish", "hub.url": f"{BASE}/feeds/region/%E5%86%85%E8%92%99.atom"},
        {"hub.mode": "publish", "hub.url": f"{BASE}/feeds/region/%E5%86%85%E8%92%99.rss"},
    ]
    assert httpserver.log[0][0].mimetype == "application/x-www-form-urlencoded"


def test_an_outside_hub_failing_is_retried_and_refusing_is_not(httpserver):
    hub_url = f"http://127.0.0.1:{httpserver.port}/publish"
    httpserver.expect_oneshot_request("/publish").respond_with_data("busy", status=503)
    with pytest.raises(notify.NotifyTransient):
        notify.ping_hub(hub_url, [f"{BASE}/feeds/all.atom"])
    httpserver.expect_oneshot_request("/publish").respond_with_data("no", status=400)
    notify.ping_hub(hub_url, [f"{BASE}/feeds/all.atom"])  # logged and given up
