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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from qianbao.ledger import store
from qianbao.ledger.chart import SUBJECTS
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.db import Database
from qianbao.platform.errors import InvalidArgument
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

STORE_WAIT_S = 600.0  # how long a close waits for its unit's writer to store the day


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
    last_posting_id: int = 0  # the day's last posting (the next close reads after it)
    carry: dict[str, int] = field(default_factory=dict)  # account -> Σ postings at the cut
    carry_all: bool = False  # ``carry`` holds every account, not only those that moved

    def summary(self) -> dict[str, Any]:
        """The unit's figures without its per-account lines."""
        lines = ("subjects", "accounts", "carry", "carry_all", "last_posting_id")
        return {k: v for k, v in asdict(self).items() if k not in lines}


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
            "units": [u.summary() | {"day": self.day.isoformat()} for u in self.units],
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
    return TrialBalance(day, _each_unit(p, day))


def _each_unit(p: Platform, day: date) -> list[UnitDay]:
    """Every unit's figures, stored or computed, the units side by side (their reads run in
    the databases, outside the interpreter lock)."""

    def figures(unit: int) -> UnitDay:
        db = p.units[unit]
        return _stored(db, unit, day) or _compute(db, unit, day)

    with ThreadPoolExecutor(max_workers=len(p.units), thread_name_prefix="day-close") as pool:
        return list(pool.map(figures, range(len(p.units))))


def close_day(p: Platform, day: date) -> TrialBalance:
    """Close ``day`` in every unit whose trial balance holds; a closed unit stays as it was."""
    _finished(day)
    units = _each_unit(p, day)
    # a day of a million accounts is one long command: wait for it past the usual bound
    stores = [
        (figures, p.writers[figures.unit].submit_async(_storer(figures)))
        for figures in units
        if not figures.closed and not figures.problems
    ]
    for figures, stored in stores:
        stored.result(timeout=STORE_WAIT_S)
        figures.closed = True
    return TrialBalance(day, units)


@dataclass
class _DayFacts:
    """What the day close reads of one unit, in one snapshot; ``compute_day`` decides from it."""

    moved: list[Any]  # per account that moved on the day: debits, credits and postings
    at_cut: dict[str, int]  # account -> Σ postings before the cut
    later: dict[str, int]  # account -> Σ postings after the cut
    accounts: list[Any]
    vouchers: int
    previous_day: date | None
    previous: dict[str, int] | None  # the previous closed day's subject closings
    gap_postings: int  # postings between the previous closed day and this one
    late_postings: int = 0  # postings of a closed day that arrived after it was closed
    last_posting_id: int = 0  # the day's last posting: the next close reads after it
    incremental: bool = False  # started from the previous close's balances, not from zero
    changed: list[str] = field(default_factory=list)  # accounts whose sum at the cut moved


def _read_day(db: Database, day: date) -> _DayFacts:
    """One snapshot: the postings since the previous close (one range of the primary key, not
    the whole history) on top of each account's sum at that close; the first close, or one
    after days closed out of order, reads from the first posting."""
    start, end = start_of_day_ms(day), start_of_day_ms(day + timedelta(days=1))
    with db.read(snapshot=True) as tx:
        previous_row, latest = store.last_closed(tx, before=day.isoformat()), store.last_closed(tx)
        previous_day = date.fromisoformat(previous_row["day"]) if previous_row else None
        mark = _carried_mark(previous_row, latest)
        incremental = mark > 0
        previous_end = start_of_day_ms(previous_day + timedelta(days=1)) if previous_day else start
        ranges = store.postings_after(tx, mark, start, end, previous_end)
        at_cut = store.carried_closings(tx) if incremental else {}
        accounts = store.all_accounts(tx)
        vouchers = store.day_vouchers(tx, mark, start, end)
        previous = store.subject_closings(tx, previous_row["day"]) if previous_row else None
    facts = _DayFacts([], at_cut, {}, accounts, vouchers, previous_day, previous, 0)
    facts.incremental, facts.last_posting_id = incremental, mark
    _fold_ranges(facts, ranges)
    return facts


def _carried_mark(previous: Any, latest: Any) -> int:
    """The posting after which to read: the previous closed day's last one, when the carried
    sums are that day's (it is the latest closed) and it recorded one; else 0 (read all)."""
    if previous is None or latest is None or latest["day"] != previous["day"]:
        return 0
    return int(previous["last_posting_id"])


def _fold_ranges(f: _DayFacts, ranges: list[Any]) -> None:
    """Per account's range row: the day's movement, its sum at the cut and after it."""
    at_cut, later, moved, changed = f.at_cut, f.later, f.moved, f.changed
    top_id = f.last_posting_id
    for r in ranges:
        account, top = r["account_id"], r["top"]
        if top is not None:  # postings before the cut
            at_cut[account] = at_cut.get(account, 0) + r["before"] + r["c"] - r["d"]
            top_id = top if top > top_id else top_id
            changed.append(account)
        if r["n"]:
            moved.append(r)
        if r["later"]:
            later[account] = r["later"]
        if r["gap_n"] or r["late_n"]:
            f.gap_postings += r["gap_n"]
            f.late_postings += r["late_n"] if f.incremental else 0
    f.last_posting_id = top_id


def _compute(db: Database, unit: int, day: date) -> UnitDay:
    return compute_day(unit, day, _read_day(db, day))


def compute_day(unit: int, day: date, f: _DayFacts) -> UnitDay:
    """The day's close of one unit from what was read: pure, so it can be checked by hand."""
    end = start_of_day_ms(day + timedelta(days=1))
    summary = {code: SubjectDay(code, 0, 0, 0, 0, 0) for code in SUBJECTS}
    problems = _order_problems(day, f)
    previous = None if f.gap_postings else f.previous  # open days' movements would differ
    subject_of: dict[str, str] = {}
    problems += _account_lines(f, summary, end, subject_of)
    rows = _moved_rows(day, f, summary, problems, subject_of)
    problems += _subject_openings(summary, previous)
    debit_total = sum(line.debit_fen for line in summary.values())
    credit_total = sum(line.credit_fen for line in summary.values())
    if debit_total != credit_total:
        problems.append(f"the day's debits {debit_total} ≠ credits {credit_total}")
    if sum(f.at_cut.values()):
        problems.append(f"the books do not sum to zero at the cut: {sum(f.at_cut.values())} fen")
    postings = sum(m["n"] for m in f.moved)
    lines = list(summary.values())
    figures = UnitDay(
        unit, day, f.vouchers, postings, debit_total, credit_total, lines, rows, problems
    )
    figures.last_posting_id, figures.carry_all = f.last_posting_id, not f.incremental
    figures.carry = {a: f.at_cut[a] for a in f.changed} if f.incremental else f.at_cut
    return figures


def _order_problems(day: date, f: _DayFacts) -> list[str]:
    problems = []
    if f.gap_postings:  # days after the last closed one have bookings: they close first
        assert f.previous_day is not None
        problems.append(
            f"{day - timedelta(days=1)} is not closed: close the days in order"
            f" (from {f.previous_day + timedelta(days=1)})"
        )
    if f.late_postings:
        problems.append(
            f"{f.late_postings} postings of a closed day were booked after it was closed"
        )
    return problems


def _account_lines(
    f: _DayFacts, summary: dict[str, SubjectDay], end_ms: int, subject_of: dict[str, str]
) -> list[str]:
    """Each subject's accounts and closing at the cut; every balance equals its postings (and
    ``subject_of`` filled: account -> subject)."""
    problems = []
    at_cut, later = f.at_cut, f.later
    for a in f.accounts:
        account, subject = a["id"], a["subject"]
        subject_of[account] = subject
        side, line, sum_fen = SUBJECTS[subject].side, summary[subject], at_cut.get(account, 0)
        line.accounts += a["created_at_ms"] < end_ms or account in at_cut  # open at the cut
        line.closing_fen += side * sum_fen
        if side * (sum_fen + later.get(account, 0)) != a["balance_fen"]:
            problems.append(f"account {account}: balance differs from its postings")
    return problems


def _moved_rows(
    day: date,
    f: _DayFacts,
    summary: dict[str, SubjectDay],
    problems: list[str],
    subject_of: dict[str, str],
) -> list[dict[str, Any]]:
    """Per account that moved: opening, debits, credits, closing (and the subjects' totals)."""
    rows, iso = [], day.isoformat()
    for m in f.moved:
        account = m["account_id"]
        subject = subject_of.get(account)
        if subject is None:
            problems.append(f"postings on {account}, which is not an account")
            continue
        side, debit_fen, credit_fen = SUBJECTS[subject].side, m["d"], m["c"]
        closing = side * f.at_cut[account]
        line = summary[subject]
        line.debit_fen += debit_fen
        line.credit_fen += credit_fen
        rows.append(
            {
                "day": iso,
                "account_id": account,
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


def close_through(p: Platform, last_day: date, max_days: int = 366) -> list[TrialBalance]:
    """Close every day not yet closed up to ``last_day``, oldest first (a server that was down
    for a few days catches up). With nothing closed before, the first day closed is
    ``last_day`` itself: everything before it is in its opening balances. Stops at the first
    day that does not balance."""
    starts = []
    for db in p.units:
        with db.read() as tx:
            last = store.last_closed(tx, before=(last_day + timedelta(days=1)).isoformat())
        starts.append(date.fromisoformat(last["day"]) + timedelta(days=1) if last else last_day)
    day, done = max(min(starts), last_day - timedelta(days=max_days - 1)), []
    while day <= last_day:
        done.append(close_day(p, day))
        if not done[-1].ok:
            break
        day += timedelta(days=1)
    return done


def _stored(db: Database, unit: int, day: date) -> UnitDay | None:
    with db.read() as tx:
        head = store.closing_head(tx, day.isoformat())
        if head is None:
            return None
        subjects = store.subject_days(tx, day.isoformat())
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
        last_posting_id=int(head["last_posting_id"]),
    )


def _storer(figures: UnitDay) -> Callable[[WriteContext], None]:
    return lambda ctx: _store(ctx, figures)


def _store(ctx: WriteContext, figures: UnitDay) -> None:
    tx, day = ctx.tx, figures.day.isoformat()
    if store.is_closed(tx, day):
        return  # closed meanwhile by another caller: the first close stands
    latest = store.last_closed(tx)
    head = {
        "day": day,
        "vouchers": figures.vouchers,
        "postings": figures.postings,
        "debit_fen": figures.debit_fen,
        "credit_fen": figures.credit_fen,
        "closed_at_ms": clock.now_ms(),
        "last_posting_id": figures.last_posting_id,
    }
    store.store_day(tx, head, (asdict(s) for s in figures.subjects), figures.accounts)
    if latest is None or latest["day"] < day:  # the carried sums follow the latest closed day
        store.carry(tx, day, figures.carry, replace=figures.carry_all)
