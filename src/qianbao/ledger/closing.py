"""End of day for the books (日终): day cut, per-account daily balances, subject summary, trial
balance and daily closing.

The day cut (日切) is the business clock: a posting belongs to the business day (Asia/Shanghai)
of its ``created_at_ms``. Once a day is over, ``close_day`` computes for every unit, from the
postings themselves (the source of truth):

* per-account daily balances (分户日余额) of every account that moved: opening, debits, credits,
  closing;
* the subject summary (科目汇总) of the whole chart: accounts, opening, debits, credits, closing;
* the trial balance (试算平衡): the day's debits equal its credits, the books sum to zero at the
  cut, every subject opens where the previous closed day closed, and every cached balance
  equals its postings (分户账 = 总账).

A unit whose trial balance holds is closed (日结): its figures are stored and never rewritten, so
closing again returns the stored day. A unit that does not balance is reported and left open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from qianbao.ledger.chart import SUBJECTS
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.db import Database, Tx
from qianbao.platform.errors import InvalidArgument
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext


@dataclass
class SubjectDay:
    subject: str
    accounts: int
    opening_fen: int
    debit_fen: int
    credit_fen: int
    closing_fen: int


@dataclass
class UnitDay:
    unit: int
    day: date
    vouchers: int
    postings: int
    debit_fen: int
    credit_fen: int
    subjects: list[SubjectDay]
    accounts: list[dict[str, Any]] = field(default_factory=list)  # the accounts that moved
    problems: list[str] = field(default_factory=list)
    closed: bool = False


@dataclass
class TrialBalance:
    day: date
    units: list[UnitDay]

    @property
    def ok(self) -> bool:
        return not any(u.problems for u in self.units)

    @property
    def closed(self) -> bool:
        return all(u.closed for u in self.units)

    def subjects(self) -> list[SubjectDay]:
        """The subject summary over all units (a unit's accounts never span units)."""
        total: dict[str, SubjectDay] = {}
        for u in self.units:
            for s in u.subjects:
                t = total.setdefault(s.subject, SubjectDay(s.subject, 0, 0, 0, 0, 0))
                t.accounts += s.accounts
                t.opening_fen += s.opening_fen
                t.debit_fen += s.debit_fen
                t.credit_fen += s.credit_fen
                t.closing_fen += s.closing_fen
        return list(total.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "ok": self.ok,
            "closed": self.closed,
            "subjects": [asdict(s) for s in self.subjects()],
            "units": [
                {k: v for k, v in asdict(u).items() if k not in ("subjects", "accounts")}
                | {"day": self.day.isoformat()}
                for u in self.units
            ],
        }


def _finished(day: date) -> None:
    if day >= clock.today():
        raise InvalidArgument(
            f"{day.isoformat()} is not over yet: only a finished day can be closed",
            code="DAY_NOT_OVER",
        )


def trial_balance(p: Platform, day: date) -> TrialBalance:
    """The day's figures: as closed where a unit closed it, else computed now (nothing stored)."""
    _finished(day)
    return TrialBalance(
        day, [_stored(db, u, day) or _compute(db, u, day) for u, db in enumerate(p.units)]
    )


def close_day(p: Platform, day: date) -> TrialBalance:
    """Close ``day`` in every unit whose trial balance holds; a closed unit stays as it was."""
    _finished(day)
    units = []
    for unit, db in enumerate(p.units):
        figures = _stored(db, unit, day) or _compute(db, unit, day)
        if not figures.closed and not figures.problems and p.owns(unit):
            p.writers[unit].submit(_storer(figures))
            figures.closed = True
        units.append(figures)
    return TrialBalance(day, units)


@dataclass
class _DayFacts:
    """What the day close reads of one unit, in one snapshot; ``_compute`` decides from it."""

    moved: list[Any]  # per account: debits, credits and postings of the day
    at_cut: dict[str, int]  # account -> Σ postings before the cut
    later: dict[str, int]  # account -> Σ postings after the cut
    accounts: list[Any]
    vouchers: int
    previous_day: date | None
    previous: dict[str, int] | None  # the previous closed day's subject closings
    gap_postings: int  # postings between the previous closed day and this one


def _read_day(db: Database, day: date) -> _DayFacts:
    start, end = start_of_day_ms(day), start_of_day_ms(day + timedelta(days=1))
    with db.read(snapshot=True) as tx:
        moved = tx.all(
            "SELECT account_id, SUM(CASE WHEN amount_fen < 0 THEN -amount_fen ELSE 0 END) AS d,"
            " SUM(CASE WHEN amount_fen > 0 THEN amount_fen ELSE 0 END) AS c, COUNT(*) AS n"
            " FROM postings WHERE created_at_ms >= :s AND created_at_ms < :e GROUP BY account_id",
            {"s": start, "e": end},
        )
        at_cut = _sums(tx, "created_at_ms < :t", end)
        later = _sums(tx, "created_at_ms >= :t", end)
        accounts = tx.all("SELECT id, subject, balance_fen, created_at_ms FROM accounts")
        vouchers = _count(tx, "vouchers", start, end)
        previous_day, previous = _previous_closings(tx, day)
        gap_start = start_of_day_ms(previous_day + timedelta(days=1)) if previous_day else start
        gap_postings = _count(tx, "postings", gap_start, start)
    return _DayFacts(moved, at_cut, later, accounts, vouchers, previous_day, previous, gap_postings)


def _count(tx: Tx, table: str, start_ms: int, end_ms: int) -> int:
    return int(
        tx.scalar(
            f"SELECT COUNT(*) FROM {table} WHERE created_at_ms >= :s AND created_at_ms < :e",
            {"s": start_ms, "e": end_ms},
        )
        or 0
    )


def _compute(db: Database, unit: int, day: date) -> UnitDay:
    return compute_day(unit, day, _read_day(db, day))


def compute_day(unit: int, day: date, f: _DayFacts) -> UnitDay:
    """The day's close of one unit from what was read: pure, so it can be checked by hand."""
    end = start_of_day_ms(day + timedelta(days=1))
    summary = {code: SubjectDay(code, 0, 0, 0, 0, 0) for code in SUBJECTS}
    problems: list[str] = []
    previous = f.previous
    if f.gap_postings:  # days after the last closed one have bookings: they close first
        assert f.previous_day is not None
        problems.append(
            f"{day - timedelta(days=1)} is not closed: close the days in order"
            f" (from {f.previous_day + timedelta(days=1)})"
        )
        previous = None  # its subjects would differ by the open days' movements
    problems += _account_lines(f, summary, end)
    rows = _moved_rows(f, summary, problems)
    problems += _subject_openings(summary, previous)
    debit_total = sum(int(m["d"]) for m in f.moved)
    credit_total = sum(int(m["c"]) for m in f.moved)
    if debit_total != credit_total:
        problems.append(f"the day's debits {debit_total} ≠ credits {credit_total}")
    if sum(f.at_cut.values()):
        problems.append(f"the books do not sum to zero at the cut: {sum(f.at_cut.values())} fen")
    postings = sum(int(m["n"]) for m in f.moved)
    lines = list(summary.values())
    return UnitDay(
        unit, day, f.vouchers, postings, debit_total, credit_total, lines, rows, problems
    )


def _account_lines(f: _DayFacts, summary: dict[str, SubjectDay], end_ms: int) -> list[str]:
    """Each subject's accounts and closing at the cut; every balance equals its postings."""
    problems = []
    for a in f.accounts:
        side = SUBJECTS[a["subject"]].side
        line = summary[a["subject"]]
        line.accounts += a["created_at_ms"] < end_ms or a["id"] in f.at_cut  # open at the cut
        line.closing_fen += side * f.at_cut.get(a["id"], 0)
        if side * (f.at_cut.get(a["id"], 0) + f.later.get(a["id"], 0)) != a["balance_fen"]:
            problems.append(f"account {a['id']}: balance differs from its postings")
    return problems


def _moved_rows(
    f: _DayFacts, summary: dict[str, SubjectDay], problems: list[str]
) -> list[dict[str, Any]]:
    """Per account that moved: opening, debits, credits, closing (and the subjects' totals)."""
    subject_of = {a["id"]: a["subject"] for a in f.accounts}
    rows = []
    for m in f.moved:
        subject = subject_of.get(m["account_id"])
        if subject is None:
            problems.append(f"postings on {m['account_id']}, which is not an account")
            continue
        side, debit_fen, credit_fen = SUBJECTS[subject].side, int(m["d"]), int(m["c"])
        closing = side * f.at_cut[m["account_id"]]
        summary[subject].debit_fen += debit_fen
        summary[subject].credit_fen += credit_fen
        rows.append(
            {
                "account_id": m["account_id"],
                "subject": subject,
                "opening_fen": closing - side * (credit_fen - debit_fen),
                "debit_fen": debit_fen,
                "credit_fen": credit_fen,
                "closing_fen": closing,
            }
        )
    return rows


def _subject_openings(summary: dict[str, SubjectDay], previous: dict[str, int] | None) -> list[str]:
    """Each subject opens where the previous closed day closed it."""
    problems = []
    for line in summary.values():
        side = SUBJECTS[line.subject].side
        line.opening_fen = line.closing_fen - side * (line.credit_fen - line.debit_fen)
        if previous is not None and previous.get(line.subject, 0) != line.opening_fen:
            problems.append(
                f"subject {line.subject} opens at {line.opening_fen} fen,"
                f" the previous closed day closed at {previous.get(line.subject, 0)}"
            )
    return problems


def _sums(tx: Tx, where: str, at_ms: int) -> dict[str, int]:
    return {
        r["account_id"]: int(r["s"])
        for r in tx.all(
            f"SELECT account_id, SUM(amount_fen) AS s FROM postings WHERE {where}"
            " GROUP BY account_id",
            {"t": at_ms},
        )
    }


def _previous_closings(tx: Tx, day: date) -> tuple[date | None, dict[str, int] | None]:
    """The latest closed day before ``day`` and each subject's closing on it (None, None: no
    day was closed before)."""
    last = _last_closed(tx, before=day)
    if last is None:
        return None, None
    closings = {
        r["subject"]: int(r["closing_fen"])
        for r in tx.all(
            "SELECT subject, closing_fen FROM ledger_subject_days WHERE day = :d",
            {"d": last.isoformat()},
        )
    }
    return last, closings


def _last_closed(tx: Tx, before: date) -> date | None:
    last = tx.scalar(
        "SELECT MAX(day) FROM ledger_day_closings WHERE day < :d", {"d": before.isoformat()}
    )
    return date.fromisoformat(last) if last else None


def close_through(p: Platform, last_day: date, max_days: int = 366) -> list[TrialBalance]:
    """Close every day not yet closed up to ``last_day``, oldest first (a server that was down
    for a few days catches up). With nothing closed before, the first day closed is
    ``last_day`` itself: everything before it is in its opening balances. Stops at the first
    day that does not balance."""
    starts = []
    for db in p.units:
        with db.read() as tx:
            last = _last_closed(tx, before=last_day + timedelta(days=1))
        starts.append(last + timedelta(days=1) if last else last_day)
    day, done = max(min(starts), last_day - timedelta(days=max_days - 1)), []
    while day <= last_day:
        done.append(close_day(p, day))
        if not done[-1].ok:
            break
        day += timedelta(days=1)
    return done


def _stored(db: Database, unit: int, day: date) -> UnitDay | None:
    with db.read() as tx:
        head = tx.one("SELECT * FROM ledger_day_closings WHERE day = :d", {"d": day.isoformat()})
        if head is None:
            return None
        subjects = tx.all(
            "SELECT subject, accounts, opening_fen, debit_fen, credit_fen, closing_fen"
            " FROM ledger_subject_days WHERE day = :d",
            {"d": day.isoformat()},
        )
    chart_order = list(SUBJECTS)
    return UnitDay(
        unit,
        day,
        int(head["vouchers"]),
        int(head["postings"]),
        int(head["debit_fen"]),
        int(head["credit_fen"]),
        sorted(
            (SubjectDay(**dict(r)) for r in subjects), key=lambda s: chart_order.index(s.subject)
        ),
        closed=True,
    )


def _storer(figures: UnitDay) -> Callable[[WriteContext], None]:
    return lambda ctx: _store(ctx, figures)


def _store(ctx: WriteContext, figures: UnitDay) -> None:
    tx, day = ctx.tx, figures.day.isoformat()
    if tx.scalar("SELECT COUNT(*) FROM ledger_day_closings WHERE day = :d", {"d": day}):
        return  # closed meanwhile by another caller: the first close stands
    tx.executemany(
        "INSERT INTO ledger_account_days (day, account_id, subject, opening_fen, debit_fen,"
        " credit_fen, closing_fen) VALUES (:day, :account_id, :subject, :opening_fen,"
        " :debit_fen, :credit_fen, :closing_fen)",
        [{"day": day, **row} for row in figures.accounts],
    )
    tx.executemany(
        "INSERT INTO ledger_subject_days (day, subject, accounts, opening_fen, debit_fen,"
        " credit_fen, closing_fen) VALUES (:day, :subject, :accounts, :opening_fen, :debit_fen,"
        " :credit_fen, :closing_fen)",
        [{"day": day, **asdict(s)} for s in figures.subjects],
    )
    tx.execute(
        "INSERT INTO ledger_day_closings (day, vouchers, postings, debit_fen, credit_fen,"
        " closed_at_ms) VALUES (:day, :v, :n, :d, :c, :now)",
        {
            "day": day,
            "v": figures.vouchers,
            "n": figures.postings,
            "d": figures.debit_fen,
            "c": figures.credit_fen,
            "now": clock.now_ms(),
        },
    )
