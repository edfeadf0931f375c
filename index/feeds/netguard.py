"""Refuse URLs that point into the machine's own networks (SSRF guard)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import UrlRefused

_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}
_SHARED = ipaddress.ip_network("100.64.0.0/10")


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT's ::ffff:0:a.b.c.d


def embedded_ipv4(ip: IPAddress) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries and routes to, with the form's name: mapped
    (::ffff:a.b.c.d), compatible (::a.b.c.d), 6to4 (2002:AABB:CCDD::), Teredo (server and
    client), NAT64 (64:ff9b::a.b.c.d) and SIIT-translated (::ffff:0:a.b.c.d)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if ip.ipv4_mapped is not None:
        found.append(("an IPv4-mapped address", ip.ipv4_mapped))
    elif int(ip) >> 32 == 0 and int(ip) > 1:
        found.append(("an IPv4-compatible address", low32))
    if ip.sixtofour is not None:
        found.append(("a 6to4 address", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo
        found += [("a Teredo address", server), ("a Teredo address", client)]
    if any(ip in net for net in _NAT64):
        found.append(("a NAT64 address", low32))
    if ip in _IPV4_TRANSLATED:
        found.append(("an IPv4-translated address", low32))
    return found


def address_problem(ip: IPAddress) -> str | None:
    """Why this address is not a public one, or None when it is. An IPv6 address that carries an
    IPv4 one (6to4, NAT64, Teredo, mapped…) must pass for both: 2002:7f00:1:: reaches 127.0.0.1."""
    for form, inner in embedded_ipv4(ip):
        problem = _plain_problem(inner)
        if problem:
            return f"{form} of {inner}, {problem}"
    return _plain_problem(ip)


def _plain_problem(ip: IPAddress) -> str | None:
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED):
        return "a private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "a reserved address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to, in the resolver's order, once each."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"cannot resolve host '{host}': {exc}") from None
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def _host_and_port(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(f"not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"only http and https URLs are allowed, not {parts.scheme or 'no scheme'!r}")
    host = parts.hostname
    if not host:
        raise UrlRefused(f"URL has no host: {url!r}")
    return host, port or (443 if parts.scheme == "https" else 80)


def checked_addresses(url: str, allow_private: bool) -> list[IPAddress]:
    """The URL's host resolved once, every address checked (unless private networks are
    allowed): the fetcher connects to these and never resolves the name again, so a name that
    answers a public address to the check and a private one to the connection gets nowhere."""
    host, port = _host_and_port(url)
    addresses = resolve(host, port)
    if not allow_private:
        for ip in addresses:
            problem = address_problem(ip)
            if problem:
                raise UrlRefused(
                    f"{host} resolves to {ip}, {problem}; set feeds.allow_private_networks = true to allow it"
                )
    return addresses


def check_url(url: str, allow_private: bool) -> None:
    """Raise UrlRefused unless the URL is http(s) and (unless allowed) resolves to public addresses only."""
    _host_and_port(url)
    if not allow_private:
        checked_addresses(url, allow_private)
