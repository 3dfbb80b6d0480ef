"""Who may scrape `/metrics`, the one rule of the web process, the backend worker and every node
(the backend imports it from here: the node imports nothing of the backend).

With neither a token nor an address list set, metrics are off (404). Else a scrape needs
`Authorization: Bearer <token>` (compared in constant time) or a TCP peer address inside one of
the networks (an IPv4-mapped IPv6 peer counts as its IPv4 address); anything else is 403.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> list[Network]:
    """`["10.0.0.0/8", "127.0.0.1"]` → networks. Raises ValueError naming a bad entry."""
    networks = []
    for value in values:
        value = value.strip()
        if value:
            try:
                networks.append(ipaddress.ip_network(value, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or network: {value!r}") from None
    return networks


def scrape_status(
    *, token: str, networks: Sequence[Network], authorization: str, client_ip: str
) -> int:
    """Return the HTTP status a scrape gets: 200, 403 (not allowed) or 404 (metrics are off)."""
    if not token and not networks:
        return 404
    scheme, _, presented = (authorization or "").partition(" ")
    if token and scheme.lower() == "bearer":
        if hmac.compare_digest(presented.strip().encode(), token.encode()):
            return 200
    if networks and client_ip:
        try:
            address = ipaddress.ip_address(client_ip.split("%", 1)[0])
        except ValueError:
            return 403
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in network for network in networks):
            return 200
    return 403
