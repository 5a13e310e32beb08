"""Fetching an image URL without letting the URL reach inside our network.

Every hop (the first URL and each redirect) has its host resolved and every address checked
before a connection is made: loopback, private, link-local (cloud metadata lives at
169.254.169.254), multicast, reserved and unspecified addresses are refused unless the host
is named in the allowlist. The body is read in chunks and cut off at the byte limit, and the
whole fetch (every hop and the body) must end within ``total_timeout``.

DNS rebinding: the host is resolved once, by ``resolver``, and the connection goes to the
addresses that were checked, never to a second lookup's answer. ``PinnedAdapter`` (mounted on
the session for http and https) opens its connection pool on the checked IP while the Host
header, TLS SNI and certificate verification keep the URL's host name; it refuses any request
that the fetcher has not pinned, so the session never resolves a name by itself. The session
ignores the environment (``trust_env = False``: no proxy variables, no .netrc credentials).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, DecodeError, MaxRetryError
from urllib3.response import HTTPResponse as RawResponse

from shared import netguard

Resolver = netguard.Resolver
CHUNK = 64 * 1024


class FetchRefused(ValueError):
    """A permanent refusal (bad address, too big, not allowed); retrying will not help."""


class FetchTransient(RuntimeError):
    """The network failed in a way that may pass (timeout, reset, 5xx); worth a retry."""


system_resolver = netguard.system_resolver  # raises NotResolved: transient, see checked()


@dataclass(frozen=True)
class Pin:
    """The checked addresses one request may connect to, in the resolver's order."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


_PIN: contextvars.ContextVar[Pin | None] = contextvars.ContextVar("fetch_pin", default=None)
_ADDRESS: contextvars.ContextVar[str | None] = contextvars.ContextVar("fetch_addr", default=None)


def _never_connected(exc: requests.ConnectionError) -> bool:
    """The TCP connection was never made (refused, unreachable, connect timeout)."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError is one too


class PinnedAdapter(HTTPAdapter):
    """Connects only to the address the fetcher checked for this request.

    The pool is opened on the IP itself; the Host header carries the URL's authority, and for
    https the pool's ``server_hostname`` makes SNI and certificate verification use the host
    name. Proxies are never used. If the first checked address cannot be connected to, the
    next one is tried (as a resolver's list would be), but never an unchecked one.
    """

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        pin = _PIN.get()
        parts = urlsplit(request.url)
        where = (parts.scheme, parts.port or _default_port(parts.scheme))
        if pin is None or where != (pin.scheme, pin.port):
            raise FetchRefused(
                f"no checked address for {request.url}: this session only connects where "
                "the fetcher's address guard has looked"
            )
        request.headers["Host"] = parts.netloc.rpartition("@")[2]
        failure: requests.ConnectionError | None = None
        for address in pin.addresses:
            token = _ADDRESS.set(address)
            try:
                return super().send(request, stream, timeout, verify, cert, proxies={})
            except requests.ConnectionError as exc:
                if not _never_connected(exc):
                    raise
                failure = exc
            finally:
                _ADDRESS.reset(token)
        assert failure is not None  # a pin always has an address
        raise failure

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        address = _ADDRESS.get()
        if address is None:
            raise FetchRefused(f"no checked address for {request.url}")
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": host_params["host"]}
        return self.poolmanager.connection_from_host(
            host=address,
            port=host_params["port"],
            scheme=host_params["scheme"],
            pool_kwargs=pool_kwargs,
        )


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def default_session() -> requests.Session:
    session = requests.Session()
    # No *_PROXY variables, no .netrc credentials sent anywhere; REQUESTS_CA_BUNDLE is
    # ignored too (certifi's bundle, or the session's own ``verify``, is what counts).
    session.trust_env = False
    return session


def chunks(resp: requests.Response) -> Iterable[bytes]:
    """A streamed body as it arrives."""
    raw = resp.raw
    if isinstance(raw, RawResponse) and hasattr(raw, "read1"):  # urllib3 2.x
        # read1 makes at most one socket read, so a caller's deadline is looked at whenever
        # bytes arrive; iter_content would wait for a whole 64 KiB chunk to drip in.
        while chunk := raw.read1(CHUNK, decode_content=True):
            yield chunk
    else:
        yield from resp.iter_content(CHUNK)


@dataclass
class Fetcher:
    max_bytes: int
    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = system_resolver
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_redirects: int = 3
    total_timeout: float = 30.0  # a slow drip that stays under the read timeout still ends
    session: requests.Session = field(default_factory=default_session)

    def __post_init__(self) -> None:
        # Whatever session is passed in, it connects only through the pin and ignores the
        # environment: the guard must not depend on how the session was made.
        self.session.trust_env = False
        adapter = PinnedAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def check_url(self, url: str) -> None:
        self.checked(url)

    def checked(self, url: str) -> Pin:
        """Resolve the URL's host once and check every address (``shared.netguard``, the one
        guard every service uses); the pin to connect to. Allowlisted hosts are resolved
        too: the connection goes to an address this lookup gave, whatever the host."""
        try:
            target = netguard.checked(url, self.allow_hosts, self.resolver, resolve_allowed=True)
        except netguard.AddressRefused as exc:
            raise FetchRefused(str(exc)) from None
        except netguard.NotResolved as exc:
            raise FetchTransient(str(exc)) from None
        return Pin(target.scheme, target.host, target.port, target.addresses)

    def get(self, url: str) -> bytes:
        deadline = time.monotonic() + self.total_timeout
        for _hop in range(self.max_redirects + 1):
            pin = self.checked(url)
            self._check_deadline(url, deadline)
            resp = self._send(
                pin,
                "GET",
                url,
                f"fetching {url}",
                stream=True,
                headers={"User-Agent": "newsflow-image-fetcher/1", "Accept": "image/*"},
            )
            with resp:
                if resp.is_redirect:
                    url = urljoin(url, resp.headers.get("Location", ""))
                    continue
                return self._body(url, resp, deadline)
        raise FetchRefused(f"more than {self.max_redirects} redirects")

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        """One request, no redirect followed, connected only to the checked address (WebSub
        callbacks: a subscriber's name must not resolve to a public address for the check
        and to an inside one for the connection). Raises FetchRefused or FetchTransient;
        the caller closes the response."""
        return self._send(self.checked(url), method, url, f"{method} {url}", **kwargs)

    def _send(self, pin: Pin, method: str, url: str, what: str, **kwargs) -> requests.Response:
        """One request through the pin, redirects not followed; requests' errors as ours."""
        token = _PIN.set(pin)
        try:
            # session.get / session.post: the verb's own method, which a session may wrap.
            return getattr(self.session, method.lower())(
                url,
                allow_redirects=False,
                timeout=(self.connect_timeout, self.read_timeout),
                **kwargs,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise FetchTransient(f"{what} failed: {type(exc).__name__}") from None
        except requests.RequestException as exc:  # InvalidURL, InvalidHeader, ...
            raise FetchRefused(f"{what} failed: {type(exc).__name__}: {exc}") from None
        finally:
            _PIN.reset(token)

    def _check_deadline(self, url: str, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise FetchTransient(f"{url} took longer than {self.total_timeout:g}s")

    def _body(self, url: str, resp: requests.Response, deadline: float) -> bytes:
        if resp.status_code >= 500 or resp.status_code == 429:
            raise FetchTransient(f"{url} answered {resp.status_code}")
        if resp.status_code != 200:
            raise FetchRefused(f"{url} answered {resp.status_code}")
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchRefused(f"{url} is {declared} bytes, over the {self.max_bytes}-byte limit")
        parts, total = [], 0
        try:
            for chunk in chunks(resp):
                self._check_deadline(url, deadline)
                total += len(chunk)
                if total > self.max_bytes:
                    raise FetchRefused(f"{url} sent more than the {self.max_bytes}-byte limit")
                parts.append(chunk)
        except (DecodeError, requests.exceptions.ContentDecodingError) as exc:
            raise FetchRefused(f"{url} sent a body that cannot be decoded ({exc})") from None
        except (urllib3.exceptions.HTTPError, requests.RequestException) as exc:
            # a timeout, a reset, or a body cut short (ProtocolError, ChunkedEncodingError)
            raise FetchTransient(f"reading {url} failed: {type(exc).__name__}") from None
        return b"".join(parts)
