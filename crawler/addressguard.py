"""Address guard: which network addresses the crawl may reach, Scrapy's requests and the browser's alike.

Only public unicast addresses, judged after DNS resolution, unless the site itself lives there. The
allowance is derived from the sources file: every ``allowed_domains`` entry of a site names a host the site
lives on, so that exact host (``intranet.example``: any port) or host and port (``127.0.0.1:8081``: that
port only) may resolve to a loopback or private address. Subdomains get no such allowance: a site's
``allowed_domains: [example.org]`` does not let ``metadata.example.org`` point at 169.254.169.254.

- ``address_refusal(ip)``: why an address is refused (``loopback``, ``private``, ``link-local``,
  ``multicast``, ``unspecified``, ``reserved``: anything not globally routable), or None;
- ``SiteHosts``: the hosts one site (or all of them) lives on, from its ``allowed_domains``;
- ``url_refusal(url, addresses, hosts)``: the decision for one request and the addresses its host has;
- ``HostResolver``: host name -> addresses (``getaddrinfo`` off the event loop, cached for a minute).

The Scrapy side is ``crawler.scope.ScopeMiddleware`` (it resolves through the reactor's resolver, the one
the download then connects with); the browser side is ``crawler.render.guard``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from crawler.sources import Source

__all__ = ["HostResolver", "SiteHosts", "address_refusal", "http_target", "literal_ip", "url_refusal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}


def literal_ip(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (brackets allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def address_refusal(address: IPAddress | str) -> str | None:
    """Why ``address`` is no place for a crawler to connect to, or None for a public unicast address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 is 127.0.0.1; 6to4 (2002::/16) carries an IPv4 address too
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return address_refusal(embedded)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"  # 169.254.169.254: cloud metadata
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"  # 100.64.0.0/10 (carrier-grade NAT), 240.0.0.0/4, documentation ranges ...
    return None


@dataclass(frozen=True)
class SiteHosts:
    """The hosts a site lives on: its ``allowed_domains`` entries, ``host`` or ``host:port``, lowercased."""

    entries: frozenset[str]

    @classmethod
    def of(cls, sources: Iterable[Source], *extra: str) -> SiteHosts:
        """The hosts of ``sources`` (one site, or every site of a crawl) plus ``extra`` entries."""
        entries = {d.lower() for s in sources for d in s.allowed_domains}
        return cls(frozenset(entries | {e.lower() for e in extra}))

    def lives_on(self, host: str, port: int | None, scheme: str = "http") -> bool:
        """Exactly this host (any port, when the entry has none) or this host and port."""
        host = host.lower().strip("[]")
        ports = {port or _DEFAULT_PORTS.get(scheme)}
        if port is None:
            ports.add(None)
        names = {host, f"[{host}]"}
        return bool(
            names & self.entries
            or {f"{name}:{p}" for name in names for p in ports if p is not None} & self.entries
        )

    def in_scope(self, host: str, port: int | None) -> bool:
        """A page host of the site: an entry's host or a subdomain of it (the rule of ``Source.in_scope``)."""
        host = host.lower().strip("[]")
        hostport = f"{host}:{port}" if port else host
        for entry in self.entries:
            if ":" in entry and not entry.startswith("["):
                if hostport == entry:
                    return True
            elif host == entry.strip("[]") or host.endswith("." + entry):
                return True
        return False


def http_target(url: str) -> tuple[str, str, int | None] | None:
    """``(scheme, host, port)`` of an http(s) URL with a host and a valid port, else None."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port


def url_refusal(url: str, addresses: Sequence[str], hosts: SiteHosts) -> str | None:
    """Why a request for ``url``, whose host has ``addresses``, must not be sent; None when it may.

    Only http(s). A host the site lives on may have any address; any other host must have only public
    ones (every answer is checked: a name with one public and one private address is refused).
    """
    target = http_target(url)
    if target is None:
        return "scheme"
    scheme, host, port = target
    if hosts.lives_on(host, port, scheme):
        return None
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            return reason
    return None


Lookup = Callable[[str], Awaitable[Sequence[str]]]


async def _getaddrinfo(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class HostResolver:
    """Host name -> its addresses (IP literals answer themselves); answers are kept for ``ttl`` seconds.

    A name that does not resolve answers ``()``: the caller decides (the browser guard refuses it).
    """

    def __init__(self, ttl: float = 60.0, lookup: Lookup = _getaddrinfo) -> None:
        self.ttl = ttl
        self._lookup = lookup
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}

    async def resolve(self, host: str) -> tuple[str, ...]:
        host = host.lower().strip("[]")
        if literal_ip(host) is not None:
            return (host,)
        now = time.monotonic()
        cached = self._cache.get(host)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            addresses = tuple(await self._lookup(host))
        except (OSError, UnicodeError):
            addresses = ()
        self._cache[host] = (now, addresses)
        return addresses
