"""Payment limits by KYC level: per transaction and per business day (later risk work extends).

The daily total is counted in the payment's own batch: decided in memory per (owner, day) and
written once per batch as a guarded upsert (see ``_DailySpend``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from qianbao.money_movement.errors import DailyLimitExceeded, SingleLimitExceeded
from qianbao.platform.clock import clock, day_of, start_of_day_ms
from qianbao.platform.db import Tx
from qianbao.platform.uow import Unverified, WriteContext, own_tables

_COUNTERS_CACHED_MAX = 200_000
Counter = tuple[str, str]  # (owner id, business day)


@dataclass(frozen=True)
class Limits:
    per_payment_fen: int
    per_day_fen: int


# Level 1: ID checked only; level 2: a bank card verified the name; level 3: enhanced review.
LIMITS_BY_KYC = {
    1: Limits(per_payment_fen=200_000, per_day_fen=500_000),
    2: Limits(per_payment_fen=5_000_000, per_day_fen=20_000_000),
    3: Limits(per_payment_fen=20_000_000, per_day_fen=100_000_000),
}


def check_per_payment(kyc_level: int, amount_fen: int) -> Limits:
    limits = LIMITS_BY_KYC[kyc_level]
    if amount_fen > limits.per_payment_fen:
        raise SingleLimitExceeded(
            f"amount exceeds the per-payment limit of {limits.per_payment_fen} fen for KYC level"
            f" {kyc_level}",
        )
    return limits


def count_daily(ctx: WriteContext, owner_id: str, amount_fen: int, limit_fen: int) -> None:
    """Count ``amount_fen`` against the owner's daily limit, or raise ``DAILY_LIMIT_EXCEEDED``.

    As the upsert it replaces: the day's first amount always counts; a later one only while
    the day's total stays within the limit."""
    spend: _DailySpend = ctx.participant("daily_spend", _DailySpend)
    counter = (owner_id, _today())
    refused = not spend.allows(counter, amount_fen, limit_fen) and (
        spend.is_fresh(counter) or not spend.allows(counter, amount_fen, limit_fen, fresh=True)
    )
    if refused:  # decided on a fresh read, never on the cache alone
        raise DailyLimitExceeded(f"daily limit of {limit_fen} fen reached")
    spend.add(counter, amount_fen, limit_fen)


_DAY_MS = 86_400_000  # Asia/Shanghai keeps no daylight saving: every day is this long
_day_span: tuple[int, int, str] = (0, -1, "")  # [start, end) of the last business day asked


def _today() -> str:
    """``clock.today().isoformat()``, computed once per business day (hot path)."""
    global _day_span
    now_ms = clock.now_ms()
    start_ms, end_ms, day = _day_span
    if not start_ms <= now_ms < end_ms:
        today = day_of(now_ms)
        start_ms = start_of_day_ms(today)
        _day_span = (start_ms, start_ms + _DAY_MS, today.isoformat())
    return _day_span[2]


class _DailySpend:
    """Batch participant: the batch's daily totals, decided in memory and written with one
    guarded update (counters that exist) and one insert (new ones) per batch. A refusal is
    decided on a fresh read; a success on the writer's cache is verified by the guard."""

    tables = own_tables("daily_spend")

    def __init__(self, ctx: WriteContext) -> None:
        self.db = ctx.db
        self.precise = ctx.precise
        self.known: dict[Counter, int | None] = ctx.cache("limits.daily_spend", dict)
        self.fresh: dict[Counter, int | None] = {}
        self.pending: defaultdict[Counter, int] = defaultdict(int)
        self.limit_fen: dict[Counter, int] = {}
        self.log: list[tuple[Counter, int]] = []
        self.flushes = 0
        self._committed: dict[Counter, int | None] = {}

    def spent(self, counter: Counter, *, fresh: bool = False) -> int | None:
        """The committed total before this batch (None: no row for the day yet)."""
        if counter in self.fresh:
            return self.fresh[counter]
        if not (fresh or self.precise) and counter in self.known:
            return self.known[counter]
        value = self.db.scalar(
            "SELECT spent_fen FROM daily_spend WHERE owner_id = :o AND day = :d",
            {"o": counter[0], "d": counter[1]},
        )
        self.fresh[counter] = None if value is None else int(value)
        return self.fresh[counter]

    def is_fresh(self, counter: Counter) -> bool:
        return self.precise or counter in self.fresh

    def allows(
        self, counter: Counter, amount_fen: int, limit_fen: int, *, fresh: bool = False
    ) -> bool:
        spent = self.spent(counter, fresh=fresh)
        pending = self.pending[counter]
        if spent is None and not pending:
            return True
        return (spent or 0) + pending + amount_fen <= limit_fen

    def add(self, counter: Counter, amount_fen: int, limit_fen: int) -> None:
        self.pending[counter] += amount_fen
        self.limit_fen[counter] = max(limit_fen, self.limit_fen.get(counter, 0))
        self.log.append((counter, amount_fen))

    def mark(self) -> tuple[int, int]:
        return len(self.log), self.flushes

    def rollback_to(self, mark: tuple[int, int] | None) -> None:
        log, flushes = mark or (0, 0)
        if flushes != self.flushes:  # what was written since the mark was rolled back
            self._forget()
            return
        for counter, amount_fen in reversed(self.log[log:]):
            self.pending[counter] -= amount_fen
        del self.log[log:]

    def flush(self, tx: Tx) -> bool:
        wrote = bool(self.log)
        if wrote:
            self._write(tx)
        self._forget()  # also when nothing was pending: the statement may change the totals
        return wrote

    def checkpoint(self, tx: Tx) -> bool:
        """``flush`` before a savepoint: each written total moves forward in the cache it came
        from (see ``ledger.service._Books.checkpoint``) instead of being read again."""
        moved: list[tuple[dict[Counter, int | None], Counter, int]] = []
        for counter, amount_fen in self.pending.items():
            if amount_fen:
                total_fen = (self.spent(counter) or 0) + amount_fen
                source = self.fresh if counter in self.fresh else self.known
                moved.append((source, counter, total_fen))
        wrote = bool(self.log)
        if wrote:
            self._write(tx)
        for source, counter, total_fen in moved:
            source[counter] = total_fen
        self.pending.clear()
        self.limit_fen.clear()
        self.log.clear()
        self.flushes += 1
        return wrote

    def _forget(self) -> None:
        for table in (self.fresh, self.known, self.pending, self.limit_fen):
            table.clear()
        self.log.clear()
        self.flushes += 1

    def _write(self, tx: Tx) -> None:
        grown: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for (owner, day), amount_fen in self.pending.items():
            if amount_fen:
                row = {"o": owner, "d": day, "a": amount_fen, "limit": self.limit_fen[(owner, day)]}
                (new if self.spent((owner, day)) is None else grown).append(row)
        if _grow(tx, grown) != len(grown) or _insert(tx, new) != len(new):
            raise Unverified("a daily total changed outside the writer's cache")

    def before_commit(self, tx: Tx) -> None:
        self._committed = {
            counter: (self.spent(counter) or 0) + amount_fen
            for counter, amount_fen in self.pending.items()
            if amount_fen
        }
        self._write(tx)

    def after_commit(self) -> None:
        if len(self.known) > _COUNTERS_CACHED_MAX:
            self.known.clear()
        self.known.update(self.fresh)
        self.known.update(self._committed)


def _grow(tx: Tx, rows: list[dict[str, Any]]) -> int:
    return tx.execute_values(
        "WITH d (o, dy, a, lim) AS (VALUES (:o, :d, :a, :limit))"
        " UPDATE daily_spend SET spent_fen = daily_spend.spent_fen + d.a FROM d"
        " WHERE daily_spend.owner_id = d.o AND daily_spend.day = d.dy"
        " AND daily_spend.spent_fen + d.a <= d.lim",
        rows,
    )


def _insert(tx: Tx, rows: list[dict[str, Any]]) -> int:
    return tx.execute_values(
        "INSERT INTO daily_spend (owner_id, day, spent_fen) VALUES (:o, :d, :a)"
        " ON CONFLICT (owner_id, day) DO NOTHING",
        rows,
    )
