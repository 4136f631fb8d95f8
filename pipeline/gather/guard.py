"""Which addresses a feed fetch may reach: public ones, plus what the operator allowed.

A feed's owner controls its redirects and its DNS, so every hop is judged on the
addresses its name resolves to, and the fetcher then connects to one of exactly those
addresses (see fetch.py). Pure decisions here: no sockets, no DNS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_ULA = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the last 32 bits are IPv4


def parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, NAT64, IPv4-compatible): the
    packets end up there, so that is the address to judge."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d (deprecated IPv4-compatible)
        return ipaddress.IPv4Address(int(ip))
    return None


def _kind(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip in _CGNAT:
        return "CGNAT address"
    if ip.is_multicast:
        return "multicast address"
    if ip in _ULA:
        return "unique local address"
    if ip.is_reserved:  # before is_private, which also covers 240.0.0.0/4
        return "reserved address"
    if ip.is_private:
        return "private address"
    if not ip.is_global:  # documentation, benchmarking, broadcast, ...: not the internet
        return "non-public address"
    return None


def forbidden_kind(ip: IPAddress) -> str | None:
    """Why a fetch may not connect to `ip` by default ("private address"), or None."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        kind = _kind(inner)
        return f"{kind}, as {inner}" if kind else None
    return _kind(ip)


@dataclass(frozen=True)
class Allowlist:
    """gather.allow_private_hosts: host names (allowed whatever they resolve to) and
    addresses or CIDR blocks (allowed whatever name led to them)."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Entries as config.py validated them (so none is malformed here)."""
        names, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(normal_name(entry))
        return cls(frozenset(names), tuple(networks))

    def for_source(self, configured_host: str) -> Allowlist:
        """The operator typed this source's URL: when its host is an address literal,
        that address is allowed for this source's hops too (a name is not: the feed's
        owner controls what a name resolves to)."""
        ip = parse_ip(configured_host)
        if ip is None:
            return self
        own = ipaddress.ip_network(ip.compressed.split("%")[0])  # a zone id is no network
        return Allowlist(self.names, (*self.networks, own))

    def permits(self, ip: IPAddress) -> bool:
        inner = embedded_ipv4(ip)
        return any(candidate in net for net in self.networks
                   for candidate in (ip, inner) if candidate is not None
                   and candidate.version == net.version)

    def refusal(self, host: str, addresses: Sequence[str]) -> tuple[str, str] | None:
        """(address, why) for the first address of `host` a fetch may not reach, or None
        when every one is fine. One bad address is enough: which one a connection would
        use is not ours to predict."""
        if normal_name(host) in self.names:
            return None
        for text in addresses:
            ip = parse_ip(text)
            if ip is None:
                return text, "not an IP address"
            kind = forbidden_kind(ip)
            if kind and not self.permits(ip):
                return text, kind
        return None


def normal_name(host: str) -> str:
    return host.strip().rstrip(".").lower()
