"""The login throttle: growing delays instead of a lockout.

Five wrong logins used to lock a user out for three hours, so anyone who knew a phone number
could lock its owner out. Now failures are counted under three keys, each with its own free
tries, after which every further failure doubles a wait (``login_delay_base_ms`` … capped at
``login_delay_max_ms``) before the next try under that key is even checked:

- the phone and the client's address together (``login_free_failures``): one guesser at one
  phone;
- the client's address (``login_ip_free_failures``): one guesser spraying many phones;
- the phone (``login_phone_free_failures``): many addresses at one phone. A device that logged
  in to this phone before (its device token) skips this key, so a stranger's failures never
  stop the owner on a known device.

Counts older than ``login_failure_window_minutes`` start again; a successful login clears its
phone-and-address key. A refused try answers 429 ``LOGIN_THROTTLED`` with ``Retry-After``. The
payment password keeps its lockout (``service._verify_with_lockout``): it is asked only of a
logged-in user.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from qianbao.members import store
from qianbao.members.errors import LoginThrottled
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings


@dataclass(frozen=True)
class Key:
    name: str
    free_failures: int


def address_key(ip: str) -> str:
    """An IPv4 address as is; IPv6 by its /64 (one subscriber's network holds 2^64 addresses,
    so one per try would escape the per-address count)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:45] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def keys(s: Settings, phone: str, ip: str, *, known_device: bool) -> list[Key]:
    address = address_key(ip)
    found = [Key(f"pi:{phone}|{address}", s.login_free_failures)]
    found.append(Key(f"i:{address}", s.login_ip_free_failures))
    if not known_device:
        found.append(Key(f"p:{phone}", s.login_phone_free_failures))
    return found


def delay_ms(s: Settings, failures: int, free_failures: int) -> int:
    """The wait after the ``failures``-th failure (pure): none within the free tries, then
    ``base``, ``2·base``, ``4·base`` … up to the cap."""
    over = failures - free_failures
    if over <= 0:
        return 0
    return min(s.login_delay_base_ms * 2 ** min(over - 1, 40), s.login_delay_max_ms)


def check(p: Platform, found: list[Key], now_ms: int) -> None:
    """Refuse the try (without checking the password) while any key waits."""
    with p.global_db.read() as tx:
        rows = store.throttle_rows(tx, [k.name for k in found])
    wait_ms = max((r["blocked_until_ms"] - now_ms for r in rows), default=0)
    if wait_ms > 0:
        seconds = -(-wait_ms // 1000)
        raise LoginThrottled(
            f"too many failed logins: try again in {seconds} s (the account is not locked)",
            seconds,
        )


def failed(p: Platform, found: list[Key], now_ms: int) -> None:
    s = p.settings
    window_start = now_ms - s.login_failure_window_minutes * 60_000
    with p.global_db.transaction() as tx:
        for key in found:
            failures = store.count_failure(tx, key.name, now_ms, window_start)
            wait = delay_ms(s, failures, key.free_failures)
            if wait:
                store.block_until(tx, key.name, now_ms + wait)


def succeeded(p: Platform, found: list[Key]) -> None:
    with p.global_db.transaction() as tx:
        store.clear_throttle(tx, found[0].name)
