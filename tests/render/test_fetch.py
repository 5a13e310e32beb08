"""The image fetcher: its address guard, its limits, and what it does with real answers.

The guard is proven where it decides: a resolver is injected, and the session passed in fails
the test if it is ever asked to connect. No test makes a request to anything but a local
pytest-httpserver on 127.0.0.1; redirect targets outside it are literal IPs, which the real
resolver turns into addresses without DNS and which are refused before any connection.
DNS rebinding is proven at the socket: ``connect`` is replaced by one that records the
address and raises before any packet leaves, and the names the system resolver is asked
about are recorded.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from render.fetch import Fetcher, FetchRefused, FetchTransient
from render.images import ImageRefused, render_set
from shared.netguard import address_problem

IMAGES = Path(__file__).parents[1] / "fixtures" / "images"
LOCAL = frozenset({"127.0.0.1", "localhost"})
PUBLIC = "93.184.216.34"


class MustNotConnect(requests.Session):
    """A session whose every request fails the test: the guard must refuse before it."""

    def get(self, url, **kwargs):
        pytest.fail(f"the fetcher tried to connect to {url}")


class Sentinel(Exception):
    """Raised by a session to show that the fetcher got as far as connecting."""


class RecordsThenStops(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, url, **kwargs):
        self.calls.append(url)
        raise Sentinel(url)


class Recording(requests.Session):
    """A real session that remembers every URL it was asked to fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, url, **kwargs):
        self.calls.append(url)
        return super().get(url, **kwargs)


def resolving_to(*addresses: str):
    def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


def local(httpserver, path: str) -> str:
    return f"http://127.0.0.1:{httpserver.port}{path}"


def local_fetcher(**kwargs) -> Fetcher:
    kwargs.setdefault("max_bytes", 5_000_000)
    kwargs.setdefault("read_timeout", 3.0)
    kwargs.setdefault("total_timeout", 5.0)
    kwargs.setdefault("allow_hosts", LOCAL)
    return Fetcher(**kwargs)


# --- the address guard, at its decision point -------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # cloud metadata (link-local)
        "10.0.0.5",
        "192.168.1.1",
        "172.16.0.1",
        "127.0.0.1",
        "::1",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "224.0.0.1",
        "0.0.0.0",
        "::",
        "100.64.0.1",  # carrier-grade NAT: not public
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::1",  # 6to4 wrapping 169.254.169.254
        "2002:0a00:0005::1",  # 6to4 wrapping 10.0.0.5
    ],
)
def test_host_resolving_to_non_public_address_is_refused_before_connecting(address):
    fetcher = Fetcher(max_bytes=1000, resolver=resolving_to(address), session=MustNotConnect())
    with pytest.raises(FetchRefused, match=r"refused images\.example\.com"):
        fetcher.get("http://images.example.com/a.jpg")


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    fetcher = Fetcher(
        max_bytes=1000, resolver=resolving_to(PUBLIC, "10.0.0.5"), session=MustNotConnect()
    )
    with pytest.raises(FetchRefused, match=r"10\.0\.0\.5 is a private address"):
        fetcher.get("http://images.example.com/a.jpg")


def test_host_resolving_to_no_address_is_transient_and_never_connected():
    # As for WebSub callbacks (shared.netguard.NotResolved): a name may resolve later.
    fetcher = Fetcher(max_bytes=1000, resolver=resolving_to(), session=MustNotConnect())
    with pytest.raises(FetchTransient, match="resolves to no address"):
        fetcher.get("http://images.example.com/a.jpg")


def test_metadata_address_is_named_as_link_local():
    assert "link-local" in address_problem("169.254.169.254")


@pytest.mark.parametrize("address", [PUBLIC, "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_address_has_no_problem(address):
    assert address_problem(address) is None


def test_public_address_passes_the_guard_and_reaches_the_session():
    session = RecordsThenStops()
    fetcher = Fetcher(max_bytes=1000, resolver=resolving_to(PUBLIC), session=session)
    with pytest.raises(Sentinel):
        fetcher.get("http://images.example.com/a.jpg")
    assert session.calls == ["http://images.example.com/a.jpg"]


def test_resolver_is_asked_about_the_url_host_and_port():
    asked = []

    def resolver(host, port):
        asked.append((host, port))
        return [PUBLIC]

    fetcher = Fetcher(max_bytes=1000, resolver=resolver, session=RecordsThenStops())
    with pytest.raises(Sentinel):
        fetcher.get("https://Images.Example.com:8443/a.jpg")
    assert asked == [("images.example.com", 8443)]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://images.example.com/a.jpg",
        "gopher://images.example.com/",
        "data:image/png;base64,iVBORw0KGgo=",
        "//images.example.com/a.jpg",
    ],
)
def test_non_http_scheme_is_refused_before_resolving(url):
    def resolver(host, port):
        pytest.fail("a non-http URL was resolved")

    fetcher = Fetcher(max_bytes=1000, resolver=resolver, session=MustNotConnect())
    with pytest.raises(FetchRefused, match="only http and https"):
        fetcher.get(url)


@pytest.mark.parametrize("url", ["http://images.example.com:99999/a.jpg", "http://[::1/a.jpg"])
def test_malformed_url_is_refused_not_crashed_on(url):
    fetcher = Fetcher(max_bytes=1000, resolver=resolving_to(PUBLIC), session=MustNotConnect())
    with pytest.raises(FetchRefused, match="malformed URL"):
        fetcher.get(url)


# --- against a real local HTTP server ------------------------------------------------------------


def test_image_from_allowed_local_host_is_fetched(httpserver):
    jpeg = (IMAGES / "chelsea.jpg").read_bytes()
    httpserver.expect_request("/a.jpg").respond_with_data(jpeg, content_type="image/jpeg")
    assert local_fetcher().get(local(httpserver, "/a.jpg")) == jpeg


def test_localhost_name_in_allowlist_is_fetched(httpserver):
    httpserver.expect_request("/a.jpg").respond_with_data(b"abc", content_type="image/jpeg")
    assert local_fetcher().get(httpserver.url_for("/a.jpg")) == b"abc"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_server_is_refused_without_the_allowlist(httpserver, host):
    httpserver.expect_request("/a.jpg").respond_with_data(b"abc", content_type="image/jpeg")
    fetcher = Fetcher(max_bytes=1000, session=MustNotConnect())
    with pytest.raises(FetchRefused, match="loopback"):
        fetcher.get(f"http://{host}:{httpserver.port}/a.jpg")
    assert len(httpserver.log) == 0


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x"]
)
def test_redirect_to_internal_address_is_refused_before_connecting(httpserver, target):
    httpserver.expect_request("/r").respond_with_data("", status=302, headers={"Location": target})
    session = Recording()
    with pytest.raises(FetchRefused, match="refused"):
        local_fetcher(session=session).get(local(httpserver, "/r"))
    assert session.calls == [local(httpserver, "/r")]


def test_relative_redirect_on_allowed_host_is_followed(httpserver):
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_data(b"moved", content_type="image/png")
    assert local_fetcher().get(local(httpserver, "/old")) == b"moved"


def _redirect_chain(httpserver, hops: int) -> str:
    for i in range(hops):
        httpserver.expect_request(f"/hop{i}").respond_with_data(
            "", status=302, headers={"Location": f"/hop{i + 1}"}
        )
    httpserver.expect_request(f"/hop{hops}").respond_with_data(b"end", content_type="image/gif")
    return local(httpserver, "/hop0")


def test_exactly_max_redirects_are_followed(httpserver):
    assert local_fetcher(max_redirects=2).get(_redirect_chain(httpserver, 2)) == b"end"


def test_more_than_max_redirects_are_refused(httpserver):
    with pytest.raises(FetchRefused, match="more than 2 redirects"):
        local_fetcher(max_redirects=2).get(_redirect_chain(httpserver, 3))


def test_declared_content_length_over_limit_is_refused(httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 2000, content_type="image/jpeg")
    with pytest.raises(FetchRefused, match="is 2000 bytes, over the 1000-byte limit"):
        local_fetcher(max_bytes=1000).get(local(httpserver, "/big"))


def test_chunked_body_without_length_over_limit_is_refused(httpserver):
    def handler(request: Request) -> Response:
        def body():
            for _ in range(50):
                yield b"x" * 1000

        return Response(body(), content_type="image/jpeg")  # no Content-Length

    httpserver.expect_request("/stream").respond_with_handler(handler)
    with pytest.raises(FetchRefused, match="sent more than the 5000-byte limit"):
        local_fetcher(max_bytes=5000).get(local(httpserver, "/stream"))


def test_body_at_exactly_the_limit_is_accepted(httpserver):
    httpserver.expect_request("/edge").respond_with_data(b"x" * 1000, content_type="image/jpeg")
    assert len(local_fetcher(max_bytes=1000).get(local(httpserver, "/edge"))) == 1000


def _drip(nbytes: int, every: float, content_length: bool):
    def handler(request: Request) -> Response:
        def body():
            for _ in range(nbytes):
                time.sleep(every)
                yield b"x"

        headers = {"Content-Length": str(nbytes)} if content_length else {}
        return Response(body(), content_type="image/jpeg", headers=headers)

    return handler


@pytest.mark.parametrize("content_length", [True, False], ids=["with-length", "chunked"])
def test_slow_drip_ends_at_total_timeout(httpserver, content_length):
    # Each byte comes well inside the read timeout; the whole body would take 6 s.
    httpserver.expect_request("/drip").respond_with_handler(_drip(30, 0.2, content_length))
    fetcher = local_fetcher(read_timeout=2.0, total_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FetchTransient, match="took longer than 1s"):
        fetcher.get(local(httpserver, "/drip"))
    assert time.monotonic() - started < 3.0


def test_body_cut_short_is_transient(httpserver):
    def handler(request: Request) -> Response:
        def body():
            yield b"x" * 100
            raise RuntimeError("the server dies mid-body")  # werkzeug then drops the connection

        return Response(body(), content_type="image/jpeg", headers={"Content-Length": "1000"})

    httpserver.expect_request("/cut").respond_with_handler(handler)
    with pytest.raises(FetchTransient, match="reading"):
        local_fetcher().get(local(httpserver, "/cut"))


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_error_is_transient(httpserver, status):
    httpserver.expect_request("/e").respond_with_data("oops", status=status)
    with pytest.raises(FetchTransient, match=f"answered {status}"):
        local_fetcher().get(local(httpserver, "/e"))


@pytest.mark.parametrize("status", [404, 403, 410])
def test_client_error_is_refused(httpserver, status):
    httpserver.expect_request("/e").respond_with_data("no", status=status)
    with pytest.raises(FetchRefused, match=f"answered {status}"):
        local_fetcher().get(local(httpserver, "/e"))


def test_connection_refused_is_transient():
    with socket.socket() as s:  # a port that was free a moment ago, now closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchTransient, match="ConnectionError"):
        local_fetcher().get(f"http://127.0.0.1:{port}/a.jpg")


def test_wrong_content_type_still_gives_the_image_bytes(httpserver):
    jpeg = (IMAGES / "coffee.jpg").read_bytes()
    httpserver.expect_request("/a").respond_with_data(jpeg, content_type="text/html")
    assert local_fetcher().get(local(httpserver, "/a")) == jpeg


def test_html_served_as_jpeg_is_fetched_then_refused_by_the_image_pipeline(httpserver):
    html = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
    httpserver.expect_request("/a.jpg").respond_with_data(html, content_type="image/jpeg")
    data = local_fetcher().get(local(httpserver, "/a.jpg"))
    assert data == html
    with pytest.raises(ImageRefused, match="not an image"):
        render_set(data, 60_000_000)


# --- DNS rebinding: the connection goes to the address that was checked ---------------------------


def rebinding(first: str, then: str):
    """A resolver whose first answer is ``first`` and every later one ``then``."""
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return [first if len(asked) == 1 else then]

    resolver.asked = asked
    return resolver


@pytest.fixture
def connects(monkeypatch):
    """Every socket connect and system lookup, recorded. A connect to an address not in
    ``through`` raises Sentinel instead of connecting, so no packet leaves for it."""
    seen = {"connect": [], "getaddrinfo": [], "through": set()}
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        seen["connect"].append(tuple(address[:2]))
        if address[0] in seen["through"]:
            return real_connect(sock, address)
        sock.close()
        raise Sentinel(address)

    def getaddrinfo(host, *args, **kwargs):
        seen["getaddrinfo"].append(host)
        try:
            ipaddress.ip_address(host)
        except ValueError:  # a name: answered by no DNS server, whatever the code does
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: looked up in a test") from None
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


@pytest.mark.parametrize(("scheme", "port"), [("http", 80), ("https", 443)])
def test_rebinding_name_is_connected_to_at_the_checked_address_only(connects, scheme, port):
    resolver = rebinding(PUBLIC, "127.0.0.1")
    with pytest.raises(Sentinel):
        Fetcher(max_bytes=1000, resolver=resolver).get(f"{scheme}://images.example.com/a.jpg")
    assert connects["connect"] == [(PUBLIC, port)]
    assert resolver.asked == ["images.example.com"]  # one lookup: the checked one
    assert "images.example.com" not in connects["getaddrinfo"]  # and none behind our back


def test_rebinding_name_first_seen_private_is_never_connected_to(connects):
    resolver = rebinding("10.0.0.5", PUBLIC)
    with pytest.raises(FetchRefused, match="private"):
        Fetcher(max_bytes=1000, resolver=resolver).get("http://images.example.com/a.jpg")
    assert connects["connect"] == []


def test_each_redirect_hop_connects_to_its_own_checked_address(httpserver, connects):
    target = "http://cdn.example.net/b.jpg"
    httpserver.expect_request("/r").respond_with_data("", status=302, headers={"Location": target})
    connects["through"].add("127.0.0.1")  # the first hop reaches the local server for real
    answers = {"images.example": ["127.0.0.1"], "cdn.example.net": [PUBLIC]}
    fetcher = Fetcher(
        max_bytes=1000,
        allow_hosts=frozenset({"images.example"}),
        resolver=lambda host, port: answers[host],
    )
    with pytest.raises(Sentinel):
        fetcher.get(f"http://images.example:{httpserver.port}/r")
    assert connects["connect"] == [("127.0.0.1", httpserver.port), (PUBLIC, 80)]


def test_allowlisted_name_is_fetched_from_its_resolved_address_under_its_own_name(httpserver):
    httpserver.expect_request("/a.jpg").respond_with_data(b"abc", content_type="image/jpeg")
    # "images.example" has no DNS entry: only the pinned address can reach the server, and a
    # second lookup would have answered 127.0.0.2, where nothing listens.
    resolver = rebinding("127.0.0.1", "127.0.0.2")
    fetcher = local_fetcher(allow_hosts=frozenset({"images.example"}), resolver=resolver)
    assert fetcher.get(f"http://images.example:{httpserver.port}/a.jpg") == b"abc"
    assert resolver.asked == ["images.example"]
    request, _ = httpserver.log[-1]
    assert request.headers["Host"] == f"images.example:{httpserver.port}"


def test_next_checked_address_is_tried_when_the_first_refuses(httpserver):
    httpserver.expect_request("/a.jpg").respond_with_data(b"abc", content_type="image/jpeg")
    fetcher = local_fetcher(
        allow_hosts=frozenset({"images.example"}),
        resolver=resolving_to("127.0.0.2", "127.0.0.1"),  # nothing listens on .2
    )
    assert fetcher.get(f"http://images.example:{httpserver.port}/a.jpg") == b"abc"


def test_literal_address_is_not_looked_up():
    def resolver(host, port):
        pytest.fail(f"{host} was looked up")

    fetcher = Fetcher(max_bytes=1000, resolver=resolver, session=RecordsThenStops())
    with pytest.raises(Sentinel):
        fetcher.get(f"http://{PUBLIC}/a.jpg")
    with pytest.raises(FetchRefused, match="loopback"):
        fetcher.get("http://[::1]/a.jpg")


def test_session_refuses_a_request_the_fetcher_has_not_checked(httpserver):
    httpserver.expect_request("/a.jpg").respond_with_data(b"abc", content_type="image/jpeg")
    fetcher = local_fetcher()
    with pytest.raises(FetchRefused, match="no checked address"):
        fetcher.session.get(local(httpserver, "/a.jpg"), timeout=3)
    assert len(httpserver.log) == 0


def test_session_ignores_proxy_variables_and_netrc(httpserver, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # the discard port: nothing answers
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    httpserver.expect_request("/a.jpg").respond_with_data(b"abc", content_type="image/jpeg")
    fetcher = local_fetcher()
    assert fetcher.session.trust_env is False
    assert fetcher.get(local(httpserver, "/a.jpg")) == b"abc"
    request, _ = httpserver.log[-1]
    assert "Authorization" not in request.headers


def test_default_session_does_not_trust_the_environment():
    assert Fetcher(max_bytes=1).session.trust_env is False


# --- TLS: SNI and certificate checked against the host name, not the pinned address ---------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> Path:
    """A throwaway CA and a certificate it signed for images.example."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=newsflow test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=images.example",
        cwd=d,
    )  # fmt: skip
    (d / "leaf.ext").write_text(
        "subjectAltName=DNS:images.example\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid,issuer\nsubjectKeyIdentifier=hash\n"
    )
    _openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext",
        cwd=d,
    )  # fmt: skip
    return d


@pytest.fixture
def tls_server(tls_files):
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files / "leaf.pem", tls_files / "leaf.key")
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = HTTPServer(host="127.0.0.1", ssl_context=context)
    server.start()
    server.sni = names
    yield server
    server.clear()
    server.stop()


def tls_fetcher(tls_files: Path) -> Fetcher:
    fetcher = local_fetcher(
        allow_hosts=frozenset({"images.example", "other.example"}),
        resolver=resolving_to("127.0.0.1"),
    )
    fetcher.session.verify = str(tls_files / "ca.pem")
    return fetcher


def test_https_to_pinned_address_sends_sni_and_verifies_the_host_name(tls_server, tls_files):
    tls_server.expect_request("/a.jpg").respond_with_data(b"abc", content_type="image/jpeg")
    url = f"https://images.example:{tls_server.port}/a.jpg"
    assert tls_fetcher(tls_files).get(url) == b"abc"
    assert tls_server.sni == ["images.example"]
    request, _ = tls_server.log[-1]
    assert request.headers["Host"] == f"images.example:{tls_server.port}"


def test_https_certificate_for_another_name_is_not_accepted(tls_server, tls_files):
    tls_server.expect_request("/a.jpg").respond_with_data(b"abc", content_type="image/jpeg")
    with pytest.raises(FetchTransient, match="SSLError"):
        tls_fetcher(tls_files).get(f"https://other.example:{tls_server.port}/a.jpg")
    assert tls_server.sni == ["other.example"]
    assert len(tls_server.log) == 0
