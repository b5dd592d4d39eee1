"""Who is calling, by network address: the TCP peer, or, behind a trusted proxy, the client
that proxy names in ``X-Forwarded-For``.

Each proxy appends the address its connection came from. Read from the right, the first
address that is not a trusted proxy is therefore the client's; whatever lies to its left the
client wrote itself and may have forged. A peer that is not a trusted proxy is the client,
whatever header it sends, so with no trusted proxy configured the header is ignored.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from aiohttp import web

Address = IPv4Address | IPv6Address
Networks = tuple[IPv4Network | IPv6Network, ...]
UNKNOWN = "unknown"


def parse_networks(text: str) -> Networks:
    """Comma-separated networks (``10.0.0.0/8``) or single addresses; ValueError names the
    entry that is neither."""
    networks = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP network or address") from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """An address as peers and proxies write it (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``;
    IPv4 mapped into IPv6 as IPv4); None when it is none of these."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The networks of the proxies whose ``X-Forwarded-For`` is believed."""

    networks: Networks = ()

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self.networks)

    def client(self, peer: str | None, forwarded: list[str]) -> str:
        """The client's address: the right-most forwarded address that is not a trusted
        proxy, when the peer is one; otherwise the peer."""
        nearest = parse_address(peer or "")
        if nearest is None:
            return peer or UNKNOWN
        hops = [hop for header in forwarded for hop in header.split(",")]
        while self.trusts(nearest) and hops:
            previous = parse_address(hops.pop())
            if previous is None:
                break  # a trusted proxy would not write this: stop at that proxy
            nearest = previous
        return str(nearest)


TRUSTED_PROXIES_KEY = web.AppKey("trusted_proxies", TrustedProxies)


def client_address(request: web.Request) -> str:
    """The address failures are counted against (see the module's docstring)."""
    proxies = request.app[TRUSTED_PROXIES_KEY]
    return proxies.client(request.remote, request.headers.getall("X-Forwarded-For", []))


def address_key(address: str | None) -> str:
    """The rate-limit key of a client address: an IPv6 address counts by its /64, the block
    one subscriber usually holds whole, so that stepping through it gains nothing."""
    parsed = parse_address(address or "")
    if isinstance(parsed, IPv6Address):
        return f"ip:{IPv6Network((parsed, 64), strict=False)}"
    return f"ip:{parsed or address or UNKNOWN}"
