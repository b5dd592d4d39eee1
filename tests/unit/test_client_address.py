"""The client's address: X-Forwarded-For believed only from trusted proxies, read from the right."""

from __future__ import annotations

import pytest

from services.inbox.settings import InboxSettings
from services.infra.client_address import TrustedProxies, address_key, parse_networks

INGRESS = TrustedProxies(parse_networks("10.42.0.0/16, 192.0.2.7"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # No proxy in front: the peer, whatever it claims.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # The ingress appended the address it saw: that is the client.
        ("10.42.1.5", ["198.51.100.1"], "198.51.100.1"),
        # The client wrote its own header first: only what the ingress appended counts.
        ("10.42.1.5", ["1.1.1.1, 8.8.8.8, 198.51.100.1"], "198.51.100.1"),
        # Two trusted hops (a load balancer, then the ingress): skip both.
        ("10.42.1.5", ["6.6.6.6, 198.51.100.1, 192.0.2.7"], "198.51.100.1"),
        # Several header lines are one list, in order.
        ("10.42.1.5", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),
        # Ports and brackets, as some proxies write them; IPv4 mapped into IPv6.
        ("10.42.1.5", ["198.51.100.1:4711"], "198.51.100.1"),
        ("10.42.1.5", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("::ffff:10.42.1.5", ["198.51.100.1"], "198.51.100.1"),
        # A trusted proxy with nothing forwarded, or garbage: stop at that proxy.
        ("10.42.1.5", [], "10.42.1.5"),
        ("10.42.1.5", ["unknown"], "10.42.1.5"),
        ("10.42.1.5", ["6.6.6.6, nonsense, 192.0.2.7"], "192.0.2.7"),
        # Every hop trusted: the left-most.
        ("10.42.1.5", ["10.42.3.3, 192.0.2.7"], "10.42.3.3"),
        # A Unix socket or a test transport without an address.
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_the_client_is_the_rightmost_untrusted_address(
    peer: str | None, forwarded: list[str], client: str
) -> None:
    assert INGRESS.client(peer, forwarded) == client


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert TrustedProxies().client("127.0.0.1", ["198.51.100.1"]) == "127.0.0.1"


def test_ipv6_clients_count_by_their_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") == "ip:2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("198.51.100.1") == "ip:198.51.100.1"
    assert address_key(None) == "ip:unknown"


def test_the_setting_takes_networks_and_names_a_wrong_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.42.0.0/16,192.0.2.7")
    networks = InboxSettings().trusted_proxies
    assert [str(n) for n in networks] == ["10.42.0.0/16", "192.0.2.7/32"]
    monkeypatch.setenv("TRUSTED_PROXIES", "10.42.0.0/16,ingress")
    with pytest.raises(ValueError, match="'ingress' is not an IP network"):
        InboxSettings()
    monkeypatch.delenv("TRUSTED_PROXIES")
    assert InboxSettings().trusted_proxies == ()
