"""Where a webhook may go: an http(s) URL whose host is a public address (no SSRF).

An endpoint's URL is checked when it is created: a literal address, or every address its
host name resolves to then. Each delivery resolves the name again and connects only to an
address that passes (send.py), so a name that resolved to a public address at creation and
resolves to 10.0.0.1 or 169.254.169.254 later (DNS rebinding) is refused at that attempt.
With TUNELOOP_WEBHOOK_ALLOW_PRIVATE any address is allowed (tests, a receiver on the same
network) and nothing is resolved at creation.
"""

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 2048
PORTS = {"http": 80, "https": 443}
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 addresses embedded in IPv6 (RFC 6052)
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\\]")  # whitespace, controls and backslashes
Resolver = Callable[[str, int], list[str]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefusedError(ValueError):
    """The URL is not one a webhook may be sent to; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL's parts: what to connect to, and what to ask for."""

    scheme: str
    host: str  # a name, or an address (an IPv6 one without its brackets)
    port: int
    path: str  # with its query


def parse(url: str) -> Target:
    """Return the URL's parts; TargetRefusedError unless it is an absolute http(s) URL."""
    if len(url) > MAX_URL:
        raise TargetRefusedError(f"must be at most {MAX_URL} characters")
    if _UNSAFE.search(url):
        raise TargetRefusedError("must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefusedError(f"is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in PORTS:
        raise TargetRefusedError("must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise TargetRefusedError("must not carry a user name or password")
    if not parts.hostname:
        raise TargetRefusedError("must name a host")
    if port == 0:
        raise TargetRefusedError("must not name port 0")
    if parts.fragment:
        raise TargetRefusedError("must not have a fragment (#...)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, parts.hostname, port or PORTS[scheme], path)


def literal(host: str) -> Address | None:
    """The address a host is written as, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _embedded(ip: Address) -> Address:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), else the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refusal(address: str) -> str | None:
    """Why a webhook may not go to an address (loopback, private, ...), or None when it may."""
    ip = _embedded(ipaddress.ip_address(address.split("%", 1)[0]))  # no IPv6 zone
    for reason, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),
    ):
        if flag:
            return reason
    return None


def resolve(host: str, port: int) -> list[str]:
    """Return the addresses host resolves to, in the resolver's order (OSError when none)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def addresses(target: Target, allow_private: bool, resolver: Resolver = resolve) -> list[str]:
    """Return the addresses a delivery may connect to; TargetRefusedError when any is not public
    (unless private ones are allowed) or the name resolves to none."""
    ip = literal(target.host)
    if ip is not None:
        found = [str(ip)]
    else:
        try:
            found = resolver(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise TargetRefusedError(f"host {target.host!r} does not resolve: {exc}") from None
        if not found:
            raise TargetRefusedError(f"host {target.host!r} resolves to no address")
    if not allow_private:
        for address in found:
            if (why := refusal(address)) is not None:
                named = "is" if ip is not None else f"{target.host!r} resolves to"
                raise TargetRefusedError(f"the host {named} {address}, a {why} address")
    return found


def check(url: str, allow_private: bool, resolver: Resolver = resolve) -> Target:
    """Check an endpoint's URL as it is created: TargetRefusedError saying why it may not be one.

    With private targets allowed only its form is checked (nothing is resolved).
    """
    target = parse(url)
    if not allow_private:
        addresses(target, allow_private, resolver)
    return target
