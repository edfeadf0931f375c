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


def address_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why this address is not a public one, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
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


def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"cannot resolve host '{host}': {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, allow_private: bool) -> None:
    """Raise UrlRefused unless the URL is http(s) and (unless allowed) resolves to public addresses only."""
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
    if allow_private:
        return
    port = port or (443 if parts.scheme == "https" else 80)
    for ip in resolve(host, port):
        problem = address_problem(ip)
        if problem:
            raise UrlRefused(f"{host} resolves to {ip}, {problem}; set feeds.allow_private_networks = true to allow it")
