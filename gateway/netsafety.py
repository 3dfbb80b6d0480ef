"""Checks for URLs the gateway calls or fetches on a user's behalf (webhooks, media URLs).

A user-supplied URL must not make the gateway reach its own machine, the private network or a
cloud metadata service (server-side request forgery). Every address the host name resolves to
must be public; `ALLOW_PRIVATE_URLS` lifts that for local development and tests. Callers must
connect to the address returned here, not resolve the name again, or a DNS answer that changes
between check and use (DNS rebinding) would slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from gateway.errors import GatewayError

# Cloud metadata services answer on these even where link-local is routed (AWS, GCP, Azure,
# Alibaba, Oracle); they are refused even when private addresses are allowed.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("fd00:ec2::254"),
}


class UnsafeUrl(GatewayError):
    code = "unsafe_url"
    message = "URL must be http(s) and reach a public address."
    http_status = 400


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed the checks, with the addresses its host resolved to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


# IPv6 prefixes that carry an IPv4 address in their last 32 bits and reach it: IPv4-compatible
# addresses (RFC 4291 §2.5.5.1, deprecated), IPv4-translated ones (SIIT, RFC 2765 §2.1) and
# NAT64's well-known prefix (RFC 6052 §2.1). Python counts them as global, whatever IPv4 address
# they carry.
_IPV4_IN_LAST_32_BITS = (
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
    ipaddress.ip_network("64:ff9b::/96"),
)
# NAT64 for local use (RFC 8215): the operator chooses where the IPv4 address sits in it, so it
# is treated as private as a whole; with private addresses allowed, every place it may sit is
# still checked against the metadata addresses.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def _nat64_ipv4_candidates(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Return the IPv4 address a NAT64 address carries for each prefix length a /48 allows
    (RFC 6052 §2.2: /48, /56, /64, /96; bits 64-71 are the reserved `u` octet)."""
    b = ip.packed
    return [
        ipaddress.IPv4Address(b[6:8] + b[9:11]),
        ipaddress.IPv4Address(b[7:8] + b[9:12]),
        ipaddress.IPv4Address(b[9:13]),
        ipaddress.IPv4Address(b[12:16]),
    ]


def _reached_addresses(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[Any]:
    """Return `ip` and every IPv4 address it leads to: mapped (`::ffff:a.b.c.d`), compatible
    (`::a.b.c.d`), translated (`::ffff:0:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`), 6to4
    (`2002:AABB:CCDD::`, RFC 3056) and both ends of Teredo (`2001::/32`, RFC 4380)."""
    reached: list[Any] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            reached.append(ip.ipv4_mapped)
        if any(ip in network for network in _IPV4_IN_LAST_32_BITS):
            reached.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour:
            reached.append(ip.sixtofour)
        if ip.teredo:
            reached.extend(ip.teredo)
    return reached


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Tell whether the gateway may connect to `address` (IPv4 or IPv6 text).

    An IPv6 address that embeds an IPv4 address is judged by both (every written form of
    127.0.0.1 or 169.254.169.254 is refused like the address itself).
    """
    ip = ipaddress.ip_address(address)
    if ip in _LOCAL_NAT64 and (
        not allow_private or METADATA_ADDRESSES.intersection(_nat64_ipv4_candidates(ip))
    ):
        return False
    for reached in _reached_addresses(ip):
        if reached in METADATA_ADDRESSES:
            return False
        if allow_private:
            if reached.is_multicast or reached.is_unspecified:
                return False
        elif not reached.is_global or reached.is_multicast:
            return False
    return True


def check_url(url: str, *, allow_private: bool | None = None) -> CheckedUrl:
    """Check that `url` is http(s), has a host, and resolves only to allowed addresses.

    `allow_private` defaults to the `ALLOW_PRIVATE_URLS` setting. Raises UnsafeUrl (400
    `unsafe_url`) with the reason in the message; DNS failures are UnsafeUrl too.
    """
    if allow_private is None:
        allow_private = settings.ALLOW_PRIVATE_URLS
    try:
        return _check_url(url.strip(), allow_private=allow_private)
    except ValueError as exc:  # urlsplit and ipaddress on a malformed host: `http://[::1`
        raise UnsafeUrl("URL is malformed.") from exc


def _check_url(url: str, *, allow_private: bool) -> CheckedUrl:
    # urlsplit silently drops tabs and line breaks, so the URL checked would not be the one kept.
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise UnsafeUrl("URL must not contain spaces or control characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeUrl("URL has no host.")
    if parts.username or parts.password:
        raise UnsafeUrl("URL must not carry a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("URL has an invalid port.") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl("URL's host name does not resolve.") from exc
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeUrl("URL's host name does not resolve.")
    for address in addresses:
        if not address_allowed(address, allow_private=allow_private):
            raise UnsafeUrl("URL points at a loopback, private, link-local or metadata address.")
    return CheckedUrl(
        url=url,
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        addresses=addresses,
    )
