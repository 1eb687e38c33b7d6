"""Flow control (限流): token buckets per caller, per address, per route and per hot parameter,
and a bound on the requests one process serves at once (docs/decisions/0940-flow-control.md).

A limit is ``rate/burst``: a bucket holds at most ``burst`` tokens, refills ``rate`` a second,
and every request takes one. ``take`` is the whole decision and is pure (state in, state out),
so it is tested without a clock. ``Limiter`` keeps the buckets of this process in memory: with
N access-layer processes behind a balancer a caller may reach N times a limit, so a limit is
set per process (the docs say how to divide a cluster-wide figure). The limits themselves are
configuration (``flow_limits``) overlaid at run time by the operators' changes in the global
database (``platform/controls.py``), which every process re-reads within ``flow_refresh_ms``.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

from qianbao.platform.errors import RateLimited, TooManyInFlight

# What a limit can be keyed on. ``route:<METHOD> <path prefix>`` names a route limit.
KINDS = ("user", "app", "ip", "payee", "merchant", "route")


@dataclass(frozen=True)
class Limit:
    rate_per_s: float
    burst: int

    def __str__(self) -> str:
        return f"{self.rate_per_s:g}/{self.burst}"


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at_s: float


def take(limit: Limit, bucket: Bucket | None, now_s: float) -> tuple[Bucket, float]:
    """One request against a bucket: the bucket after it, and 0.0 if it may pass, else the
    seconds until a token is there (the bucket unchanged but for its refill)."""
    if bucket is None:
        tokens = float(limit.burst)
    else:
        elapsed_s = max(0.0, now_s - bucket.at_s)
        tokens = min(float(limit.burst), bucket.tokens + elapsed_s * limit.rate_per_s)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now_s), 0.0
    wait_s = (1.0 - tokens) / limit.rate_per_s if limit.rate_per_s > 0 else math.inf
    return Bucket(tokens, now_s), wait_s


def parse_limit(text: str) -> Limit | None:
    """``"20/40"`` (20 a second, bursts of 40), ``"20"`` (burst = rate), ``"off"`` → None."""
    text = text.strip().lower()
    if text in ("", "off", "none", "0"):
        return None
    rate_text, _, burst_text = text.partition("/")
    try:
        rate = float(rate_text)
        burst = int(burst_text) if burst_text else max(1, math.ceil(rate))
    except ValueError:
        raise ValueError(f"a limit is RATE/BURST (e.g. 20/40) or off, not {text!r}") from None
    if not (0 < rate <= 1_000_000 and 1 <= burst <= 10_000_000):
        raise ValueError(f"a limit's rate must be in (0, 1e6] and its burst in [1, 1e7]: {text!r}")
    return Limit(rate, burst)


def check_name(name: str) -> str:
    """A limit's name: one of ``KINDS`` or ``route:<METHOD> /path-prefix``."""
    kind = name.split(":", 1)[0]
    if kind not in KINDS or (kind == "route") != name.startswith("route:"):
        raise ValueError(f"unknown limit {name!r}: one of {', '.join(KINDS[:-1])} or route:…")
    if kind == "route":
        method, _, prefix = name[len("route:") :].partition(" ")
        if not method.isalpha() or not prefix.startswith("/"):
            raise ValueError(f"a route limit is 'route:POST /api/v1/path', not {name!r}")
    return name


def parse_limits(text: str) -> dict[str, Limit | None]:
    """``"user=20/40,ip=off,route:POST /api/v1/transfers=500/1000"`` → name → limit."""
    found: dict[str, Limit | None] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.rpartition("=")
        if not sep:
            raise ValueError(f"flow_limits: {part!r} is not NAME=RATE/BURST")
        found[check_name(name.strip())] = parse_limit(value)
    return found


class Limiter:
    """The buckets of this process, bounded: past ``keys_max`` the least recently used go
    (a forgotten bucket starts full again, which only ever errs towards letting through)."""

    def __init__(self, keys_max: int = 100_000) -> None:
        self.keys_max = keys_max
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._lock = threading.Lock()
        self.rejected = 0

    def wait_s(self, key: str, limit: Limit, now_s: float) -> float:
        with self._lock:
            bucket, wait_s = take(limit, self._buckets.get(key), now_s)
            self._buckets[key] = bucket
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.keys_max:
                self._buckets.popitem(last=False)
            if wait_s:
                self.rejected += 1
        return wait_s

    def check(self, kind: str, key: str, limit: Limit | None, now_s: float) -> None:
        if limit is None:
            return
        wait_s = self.wait_s(f"{kind}|{key}", limit, now_s)
        if wait_s:
            seconds = max(1, math.ceil(min(wait_s, 3600.0)))
            raise RateLimited(
                f"too many requests for this {kind} (limit {limit} a second): retry in {seconds} s",
                seconds,
            )


class InFlight:
    """At most ``limit`` requests at once in this process; one more is refused at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.current = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self.limit and self.current >= self.limit:
                raise TooManyInFlight(f"this server is at its {self.limit} requests in flight")
            self.current += 1

    def leave(self) -> None:
        with self._lock:
            self.current -= 1
