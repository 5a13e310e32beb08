"""The shared address guard decides with an injected resolver: no test touches the network."""

from __future__ import annotations

import pytest

from shared import netguard


def resolves_to(*addresses: str):
    def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


def must_not_resolve(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} should not have been resolved")


@pytest.mark.parametrize(
    "addr",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "::ffff:127.0.0.1",
    ],
)
def test_inner_addresses_are_refused(addr):
    with pytest.raises(netguard.AddressRefused, match="refused"):
        netguard.check_url("http://sub.example/cb", frozenset(), resolves_to(addr))


def test_one_inner_address_among_public_ones_is_enough_to_refuse():
    resolver = resolves_to("93.184.216.34", "127.0.0.1")
    with pytest.raises(ValueError, match="loopback"):
        netguard.check_url("https://sub.example/cb", frozenset(), resolver)


def test_a_public_address_passes():
    netguard.check_url("https://sub.example:8443/cb?x=1", frozenset(), resolves_to("93.184.216.34"))


def test_an_allowlisted_host_is_not_resolved_at_all():
    netguard.check_url("http://LocalHost:8080/cb", {"localhost"}, must_not_resolve)


@pytest.mark.parametrize(
    "url", ["ftp://sub.example/x", "file:///etc/passwd", "http:///nohost", "http://h:99999/"]
)
def test_only_well_formed_http_urls(url):
    with pytest.raises(netguard.AddressRefused):
        netguard.check_url(url, frozenset(), resolves_to("93.184.216.34"))


def test_a_name_that_resolves_to_nothing_is_not_resolved():
    with pytest.raises(netguard.NotResolved):
        netguard.check_url("http://sub.example/", frozenset(), resolves_to())
    assert issubclass(netguard.NotResolved, ValueError)


def test_address_problem_names_the_kind():
    assert "link-local" in netguard.address_problem("169.254.169.254")
    assert netguard.address_problem("93.184.216.34") is None
    assert netguard.address_problem("not-an-ip") is not None
