"""Near-real-time detectors: what one decision cannot see, found over the stream of movements
(issue 9 item 5). Pure: movements in, findings out; ``stream.py`` feeds them and opens cases.

- **cycle**: money that goes round — A → B (→ C (→ D)) → A, each hop later than the one before,
  all within the window, every hop at least the minimum amount. A cycle whose last hop brings back
  nearly what the first sent (within the tolerance) is a **round trip** (Huabei cash-out through
  a colluding merchant, wash trades).
- **fan_out**: one payer to many distinct payees within the window (a mule spreading money out).
- **fan_in**: many distinct payers into one user within the window (a mule collecting).
- **dormant**: a party silent for a long time that suddenly moves a large amount.

Each finding has a key that names it independently of when it was found, so the same cycle seen
again by the next run (the runs overlap by a window) opens no second case."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from qianbao.platform.money import fen_to_yuan

DAY_MS = 86_400_000
MAX_CYCLE_HOPS = 4
MAX_BRANCH = 32  # next hops followed from one party (the latest first): bounds the search


@dataclass(frozen=True, slots=True)
class Move:
    """A movement that passed: ``payer`` sent ``amount_fen`` to ``payee`` at ``at_ms``."""

    at_ms: int
    payer: str
    payee: str
    amount_fen: int
    kind: str


@dataclass(frozen=True)
class DetectorConfig:
    cycle_window_ms: int = DAY_MS
    cycle_min_fen: int = 100_00
    round_trip_tolerance: float = 0.1  # the last hop within 10% of the first
    fan_window_ms: int = 3_600_000
    fan_min_parties: int = 8
    fan_min_total_fen: int = 1_000_00
    fan_in_kinds: frozenset[str] = frozenset({"TRANSFER"})  # into users, not merchants
    fan_out_kinds: frozenset[str] = frozenset({"TRANSFER", "PAYOUT", "WITHDRAW"})
    dormant_after_ms: int = 90 * DAY_MS
    dormant_min_fen: int = 5_000_00

    @staticmethod
    def of(raw: dict[str, object]) -> DetectorConfig:
        """From ``settings.extra["risk"]["detectors"]`` (unknown names are refused)."""
        known = DetectorConfig.__dataclass_fields__
        unknown = set(raw) - set(known)
        if unknown:
            raise ValueError(f"unknown detector settings: {sorted(unknown)}")
        values = {k: frozenset(v) if k.endswith("_kinds") else v for k, v in raw.items()}  # type: ignore[call-overload]
        return DetectorConfig(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Finding:
    detector: str  # cycle | round_trip | fan_out | fan_in | dormant
    party: str  # the party the case is about
    key: str  # stable: the same finding found again has the same key
    summary: str
    parties: tuple[str, ...] = field(default=())


def _yuan(fen: int) -> str:
    return f"¥{fen_to_yuan(fen)}"


# --- cycles and round trips -----------------------------------------------------------------
class _Graph:
    """Outgoing moves per payer, time-ordered (for "the hops after time t")."""

    def __init__(self, moves: Iterable[Move], min_fen: int) -> None:
        self.out: dict[str, list[Move]] = defaultdict(list)
        for m in sorted(moves, key=lambda m: m.at_ms):
            if m.amount_fen >= min_fen and m.payer != m.payee:
                self.out[m.payer].append(m)
        self.times = {payer: [m.at_ms for m in ms] for payer, ms in self.out.items()}

    def after(self, party: str, at_ms: int, until_ms: int) -> list[Move]:
        times = self.times.get(party)
        if not times:
            return []
        lo, hi = bisect.bisect_left(times, at_ms), bisect.bisect_right(times, until_ms)
        return self.out[party][lo:hi][-MAX_BRANCH:]  # the same millisecond counts as after


def _cycles_from(g: _Graph, first: Move, window_ms: int) -> Iterator[list[Move]]:
    until = first.at_ms + window_ms
    path = [first]

    def walk(at: Move) -> Iterator[list[Move]]:
        for hop in g.after(at.payee, at.at_ms, until):
            if hop.payee == first.payer:
                yield [*path, hop]
            elif len(path) + 1 < MAX_CYCLE_HOPS and hop.payee not in {m.payer for m in path}:
                path.append(hop)
                yield from walk(hop)
                path.pop()

    yield from walk(first)


def _cycle_finding(hops: list[Move], tolerance: float) -> Finding:
    sent, back = hops[0].amount_fen, hops[-1].amount_fen
    round_trip = abs(sent - back) <= tolerance * sent
    names = [h.payer for h in hops] + [hops[0].payer]
    span_min = (hops[-1].at_ms - hops[0].at_ms) // 60_000
    detector = "round_trip" if round_trip else "cycle"
    route = " → ".join(names)
    return Finding(
        detector,
        hops[0].payer,
        f"{detector}:{hops[0].at_ms}:{route}",
        f"{detector}: {route} in {span_min} min, {_yuan(sent)} out, {_yuan(back)} back",
        tuple(names[:-1]),
    )


def cycles(moves: Iterable[Move], cfg: DetectorConfig) -> list[Finding]:
    """Each ring of parties once, from its earliest hop (any other start is a rotation of it,
    and the earliest is the same in every run that sees the whole ring: a stable key)."""
    g = _Graph(moves, cfg.cycle_min_fen)
    earliest: dict[frozenset[str], list[Move]] = {}
    for ms in g.out.values():
        for first in ms:
            for hops in _cycles_from(g, first, cfg.cycle_window_ms):
                ring = frozenset(h.payer for h in hops)
                if ring not in earliest or first.at_ms < earliest[ring][0].at_ms:
                    earliest[ring] = hops
    return [_cycle_finding(hops, cfg.round_trip_tolerance) for hops in earliest.values()]


# --- fan-in and fan-out -----------------------------------------------------------------------
def _fan(moves: list[Move], cfg: DetectorConfig, side: str, kinds: frozenset[str]) -> list[Finding]:
    """A party (payer for fan_out, payee for fan_in) with at least ``fan_min_parties`` distinct
    counterparties and ``fan_min_total_fen`` within a sliding window: reported once per window
    start (the earliest move of the burst)."""
    by_party: dict[str, list[Move]] = defaultdict(list)
    for m in sorted(moves, key=lambda m: m.at_ms):
        if m.kind in kinds:
            by_party[m.payer if side == "out" else m.payee].append(m)
    findings = []
    for party, ms in by_party.items():
        start = 0
        for end in range(len(ms)):
            while ms[end].at_ms - ms[start].at_ms > cfg.fan_window_ms:
                start += 1
            burst = ms[start : end + 1]
            others = {m.payee if side == "out" else m.payer for m in burst}
            total = sum(m.amount_fen for m in burst)
            if len(others) >= cfg.fan_min_parties and total >= cfg.fan_min_total_fen:
                name = f"fan_{side}"
                word = "payees" if side == "out" else "payers"
                findings.append(
                    Finding(
                        name,
                        party,
                        f"{name}:{party}:{burst[0].at_ms}",
                        f"{name}: {party} with {len(others)} {word}, {_yuan(total)}"
                        f" within {cfg.fan_window_ms // 60_000} min",
                        tuple(sorted(others)),
                    )
                )
                break  # one finding per party per run: the case shows the burst
    return findings


def fan_out(moves: list[Move], cfg: DetectorConfig) -> list[Finding]:
    return _fan(moves, cfg, "out", cfg.fan_out_kinds)


def fan_in(moves: list[Move], cfg: DetectorConfig) -> list[Finding]:
    return _fan(moves, cfg, "in", cfg.fan_in_kinds)


# --- dormant accounts that wake up ----------------------------------------------------------
def dormant(moves: list[Move], last_before: dict[str, int], cfg: DetectorConfig) -> list[Finding]:
    """``last_before``: each payer's last movement before these moves (absent: never moved, so a
    new account, not a dormant one). A payer silent for ``dormant_after_ms`` whose first moves
    after the silence reach ``dormant_min_fen`` within a day."""
    by_payer: dict[str, list[Move]] = defaultdict(list)
    for m in sorted(moves, key=lambda m: m.at_ms):
        by_payer[m.payer].append(m)
    findings = []
    for payer, ms in by_payer.items():
        previous = last_before.get(payer)
        if previous is None or ms[0].at_ms - previous < cfg.dormant_after_ms:
            continue
        woke = [m for m in ms if m.at_ms - ms[0].at_ms <= DAY_MS]
        total = sum(m.amount_fen for m in woke)
        if total >= cfg.dormant_min_fen:
            silent_days = (ms[0].at_ms - previous) // DAY_MS
            findings.append(
                Finding(
                    "dormant",
                    payer,
                    f"dormant:{payer}:{ms[0].at_ms}",
                    f"dormant: {payer} silent {silent_days} days, then {_yuan(total)}"
                    f" in {len(woke)} movements",
                )
            )
    return findings


def detect(moves: list[Move], last_before: dict[str, int], cfg: DetectorConfig) -> list[Finding]:
    return [
        *cycles(moves, cfg),
        *fan_out(moves, cfg),
        *fan_in(moves, cfg),
        *dormant(moves, last_before, cfg),
    ]
