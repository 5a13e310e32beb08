"""Which URLs an outbound request may go to: the address guard every service shares.

A URL given to us by someone else (an image to fetch, a WebSub callback to call) must not
reach inside our network. Its host is resolved and every address it resolves to is checked
before a connection is made: loopback, private, link-local (cloud metadata lives at
169.254.169.254), multicast, reserved and unspecified addresses are refused unless the host
is named in the allowlist. Pure: no settings, no HTTP client; the resolver is a parameter so
the decision can be tested without touching the network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str, int], Iterable[str]]


class AddressRefused(ValueError):
    """The URL may not be requested: a permanent refusal, with the reason as its message."""


class NotResolved(ValueError):
    """The host name did not resolve; that may pass, so callers may treat it as transient."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise NotResolved(f"cannot resolve {host}: {exc}") from None
    return [str(info[4][0]) for info in infos]


def address_problem(addr: str) -> str | None:
    """Why an IP address may not be reached, or None when it is a public address."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return f"{addr!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 (::ffff:a.b.c.d, or 6to4's 2002:wwxx:yyzz::) is
        # judged as the IPv4 address it reaches.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    for attr, what in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local (cloud metadata)"),
        ("is_private", "private"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_unspecified", "unspecified"),
    ):
        if getattr(ip, attr):
            return f"{addr} is a {what} address"
    if not ip.is_global:
        return f"{addr} is not a public address"
    return None


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard: where a request to it may connect (``addresses`` is
    empty for an allowlisted host that was not resolved)."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def checked(
    url: str,
    allow_hosts: Iterable[str] = frozenset(),
    resolver: Resolver = system_resolver,
    *,
    resolve_allowed: bool = False,
) -> Target:
    """Resolve the URL's host once and check every address; the target a connection may go
    to. Raises ``AddressRefused`` (permanent) or ``NotResolved`` (may pass), both
    ValueErrors, with the reason. Hosts in ``allow_hosts`` (lower case) skip the address
    check, which is how tests and private deployments reach 127.0.0.1; they are resolved
    only with ``resolve_allowed`` (a caller that pins its connection needs the addresses)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port  # a port out of range or not a number raises ValueError
    except ValueError as exc:
        raise AddressRefused(f"malformed URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise AddressRefused(f"{parts.scheme or 'no'} scheme: only http and https are allowed")
    if not host:
        raise AddressRefused(f"no host in {url!r}")
    host = host.lower()
    port = port or (443 if parts.scheme == "https" else 80)
    allowed = host in allow_hosts
    if allowed and not resolve_allowed:
        return Target(parts.scheme, host, port, ())
    try:
        addresses = [str(ipaddress.ip_address(host))]  # a literal address needs no lookup
    except ValueError:
        addresses = list(resolver(host, port))
    if not addresses:
        raise NotResolved(f"{host} resolves to no address")
    if not allowed:
        for addr in addresses:
            problem = address_problem(addr)
            if problem:
                raise AddressRefused(f"refused {host}: {problem}")
    return Target(parts.scheme, host, port, tuple(addresses))


def check_url(
    url: str,
    allow_hosts: Iterable[str] = frozenset(),
    resolver: Resolver = system_resolver,
) -> None:
    """Return if ``url`` may be requested; raise as ``checked`` does otherwise."""
    checked(url, allow_hosts, resolver)
