"""The detectors' job: follow every unit's stream of passed movements (the decisions the risk
check stored in the same batch as the money), keep the last window in memory, run the detectors
(``detectors.py``) and open a case for each new finding (ADR 0605).

Each unit's stream is read from its mark (the last decision time already read, kept in the global
database), so a restart resumes where the last run stopped and reads the window again: a finding
has a stable case id, so seeing it again opens nothing new. It runs in one process (the owner of
unit 0, like the reconciliation), reading the other units' decisions read-only."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.risk import store
from qianbao.risk.detectors import DetectorConfig, Finding, Move, detect

log = logging.getLogger("qianbao.risk")
SOURCE = "DETECTOR"
COMMIT_SLACK_MS = 10_000  # a decision is committed within this of its time


def config(p: Platform) -> DetectorConfig:
    raw = (p.settings.extra.get("risk") or {}).get("detectors") or {}
    return DetectorConfig.of(dict(raw))


def case_id(finding: Finding) -> str:
    """A stable id of our shape (digits, bucket 00) from the finding's key."""
    digest = int(hashlib.sha256(finding.key.encode()).hexdigest()[:15], 16)
    return f"9{digest:018d}00"


@dataclass
class Window:
    """The movements of the last ``span_ms`` and each payer's last movement before the window
    (asked of the database once, when the payer first shows up in it)."""

    span_ms: int
    moves: list[Move] = field(default_factory=list)
    previous: dict[str, int | None] = field(default_factory=dict)

    def add(self, new: list[Move], now_ms: int) -> list[Move]:
        """Keep the window's span; the moves not seen before are returned."""
        cutoff = now_ms - self.span_ms
        held = {m for m in self.moves if m.at_ms > cutoff}
        unseen = [m for m in dict.fromkeys(new) if m not in held]
        self.moves = sorted([*held, *unseen], key=_at)
        payers = {m.payer for m in self.moves}
        self.previous = {k: v for k, v in self.previous.items() if k in payers}
        return unseen


def _at(m: Move) -> int:
    return m.at_ms


def _read(p: Platform, window: Window, now_ms: int) -> list[Move]:
    """Every unit's passed movements since its mark (less a slack for batches still committing;
    the window drops what it holds already), marks moved on."""
    marks = store.detector_marks(p.global_db)
    new: list[Move] = []
    for unit, db in enumerate(p.units):
        since = marks.get(unit, now_ms - window.span_ms) - COMMIT_SLACK_MS
        if not window.moves:  # a (re)start: read the whole window again
            since = min(since, now_ms - window.span_ms)
        moves = [
            Move(
                int(r["created_at_ms"]),
                str(r["party_id"]),
                str(r["payee_id"]),
                int(r["amount_fen"]),
                str(r["movement_kind"]),
            )
            for r in store.moves_between(db, since, now_ms)
        ]
        fresh = sorted({m.payer for m in moves} - set(window.previous))
        for payer in fresh:
            window.previous[payer] = None
        for row in store.last_moves_before(db, fresh, since):
            window.previous[str(row["party_id"])] = int(row["last_ms"])
        store.set_detector_mark(p.global_db, unit, now_ms, now_ms)
        new += moves
    return new


def _open(p: Platform, findings: list[Finding], now_ms: int) -> int:
    rows = [
        {
            "id": case_id(f),
            "party_id": f.party,
            "decision_id": None,
            "source": SOURCE,
            "summary": f.summary[:300],
            "now": now_ms,
        }
        for f in findings
    ]
    with p.global_db.transaction() as tx:
        return sum(store.open_case(tx, row) for row in rows)


def job(p: Platform) -> Callable[[], dict[str, Any]]:
    """The periodic run: read what is new, detect over the window, open the new cases."""
    cfg = config(p)
    span_ms = max(cfg.cycle_window_ms, cfg.fan_window_ms, 86_400_000)
    window = Window(span_ms)

    def run() -> dict[str, Any]:
        now_ms = clock.now_ms()
        new = window.add(_read(p, window, now_ms), now_ms)
        last_before = {k: v for k, v in window.previous.items() if v is not None}
        findings = detect(window.moves, last_before, cfg)
        opened = _open(p, findings, now_ms)
        if opened:
            log.info("risk detectors opened %d case(s)", opened)
        return {"read": len(new), "window": len(window.moves), "opened": opened}

    return run
