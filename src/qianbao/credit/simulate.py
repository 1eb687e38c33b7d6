"""A year of Huabei on the business clock: ``qianbao simulate credit --users N --months M``.

A seeded population (prompt payers, minimum payers, bill splitters, late payers, defaulters)
shops at merchants with Huabei, sometimes in installments (some merchant-subsidised), gets
refunds, and repays by hand, by card or by automatic debit, while the day-end jobs cut bills,
charge interest, freeze, remind, provision and write off. Every step goes through the real
services and the real ledger; the run ends with the ledger check and writes a report: one PNG
per figure, ``monthly.csv`` and ``summary.json``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from qianbao.credit import accounts, dayend, installments, lines, purchases, reads, repayments
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import check_platform, get_account
from qianbao.members import service as members
from qianbao.members.identity import make_card_no, make_id_number
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform

PAY_PASSWORD = "246813"
PROFILES = (
    ("prompt", 0.66),
    ("minimum", 0.08),
    ("splitter", 0.08),
    ("late", 0.12),
    ("defaulter", 0.06),
)


@dataclass
class Person:
    user_id: str
    profile: str
    card_id: str
    spend_per_month: float  # expected purchases a month
    mean_amount_fen: int
    default_month: int = 99  # month index from which a defaulter stops paying
    late_days: int = 0


@dataclass
class Stats:
    purchases: int = 0
    purchase_fen: int = 0
    installment_purchases: int = 0
    refunds: int = 0
    repayments: int = 0
    bill_splits: int = 0
    settlements: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def refuse(self, code: str) -> None:
        with self.lock:
            self.refused[code] = self.refused.get(code, 0) + 1


class Phases:
    """Wall time spent in each part of the simulated day."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def time(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - began


def _parallel(
    pool: ThreadPoolExecutor, fn: Callable[[Any], Any], items: list[Any], stats: Stats
) -> list[Any]:
    def safe(item: Any) -> Any:
        try:
            return fn(item)
        except QianbaoError as exc:
            stats.refuse(exc.code)
            return None

    return list(pool.map(safe, items))


def build_population(
    p: Platform,
    pool: ThreadPoolExecutor,
    users: int,
    rng: random.Random,
    start: date,
    progress: Callable[[int], None],
) -> list[Person]:
    plans = []
    for i in range(users):
        r, acc = rng.random(), 0.0
        profile = PROFILES[-1][0]
        for name, share in PROFILES:
            acc += share
            if r < acc:
                profile = name
                break
        age = rng.randint(18, 64)
        birth = date(start.year - age - 1, rng.randint(1, 12), rng.randint(1, 28))
        plans.append((i, profile, birth))

    def make(item: tuple[int, str, date]) -> Person:
        i, profile, birth = item
        phone = f"15{i:09d}"
        user = members.register_user(
            p,
            members.NewUser(
                "模拟用户",
                make_id_number(f"31{i // 1000:04d}", birth, i % 1000),
                phone,
                "sim12345x",
                PAY_PASSWORD,
            ),
        )
        uid = str(user["id"])
        card = members.bind_card(p, uid, make_card_no(f"62{i:013d}"))["id"]
        local = random.Random(i * 7919 + 17)
        starting = local.choice([0, 50_000, 200_000, 1_000_000])
        if profile in ("prompt", "splitter"):
            starting = local.choice([1_000_000, 2_000_000, 3_000_000])
        if starting:
            payments.topup(p, uid, card, starting, f"sim-seed-{i}")
        members.set_password_free_limit(p, uid, 200_000, PAY_PASSWORD)
        lines.open_credit_account(p, uid, f"sim-open-{i}", due_day=local.choice([9, 10]))
        lines.set_autodebit(p, uid, profile in ("prompt", "splitter"))
        progress(1)
        return Person(
            uid,
            profile,
            str(card),
            spend_per_month=local.uniform(2, 10),
            mean_amount_fen=int(local.lognormvariate(9.2, 0.6)),
            default_month=local.randint(1, 6) if profile == "defaulter" else 99,
            late_days=local.randint(3, 45) if profile == "late" else 0,
        )

    return list(pool.map(make, plans))


def _month_index(start: date, day: date) -> int:
    return (day.year - start.year) * 12 + day.month - start.month


def simulate(
    p: Platform,
    *,
    users: int,
    months: int,
    seed: int,
    out_dir: Path,
    start: date = date(2026, 1, 1),
    threads: int = 8,
    progress: Any = None,
) -> dict[str, Any]:
    """Run the population for ``months`` months from ``start``; returns the summary."""
    began = time.monotonic()
    rng = random.Random(seed)
    stats = Stats()
    phases = Phases()
    out_dir.mkdir(parents=True, exist_ok=True)
    clock.set(dayend._at(start - timedelta(days=1), 9))
    merchants = [members.create_merchant(p, f"模拟商户{seed}-{m}")[0]["id"] for m in range(40)]
    last = _add_months(start, months) - timedelta(days=1)
    days_total = (last - start).days + 1
    task = progress.add_task("users", total=users) if progress else None
    setup_began = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        people = build_population(
            p, pool, users, rng, start, lambda n: progress.advance(task, n) if progress else None
        )
        setup_seconds = time.monotonic() - setup_began
        task = _next_task(progress, task, "days", days_total)
        refunds_due: dict[date, list[tuple[str, str, int]]] = {}
        monthly: list[dict[str, Any]] = []
        income_before = _income(p)
        day = start
        while day <= last:
            m = _month_index(start, day)
            clock.set(dayend._at(day, 9))
            with phases.time("start_of_day"):
                dayend.start_of_day(p, day)
            clock.set(dayend._at(day, 12))
            with phases.time("purchases"):
                _shop(p, pool, people, merchants, rng, day, m, stats, refunds_due)
            with phases.time("refunds"):
                _refund(p, pool, refunds_due.pop(day, []), stats)
            with phases.time("repayments"):
                _repay(p, pool, people, rng, day, m, stats)
            clock.set(dayend._at(day, 23, 30))
            with phases.time("end_of_day"):
                dayend.end_of_day(p, day)
            if (day + timedelta(days=1)).day == 1:
                income_now = _income(p)
                monthly.append(_month_row(p, day, income_before, income_now))
                income_before = income_now
            if progress:
                progress.advance(task)
            day += timedelta(days=1)
    p.relay.drain()
    summary = {
        "users": users,
        "months": months,
        "seed": seed,
        "start": start.isoformat(),
        "end": last.isoformat(),
        "seconds": round(time.monotonic() - began, 1),
        "setup_seconds": round(setup_seconds, 1),
        "phase_seconds": {k: round(v, 1) for k, v in phases.seconds.items()},
        **_outcome(p, people, stats),
        "monthly": monthly,
    }
    write_report(out_dir, summary)
    return summary


def _next_task(progress: Any, done: Any, name: str, total: int) -> Any:
    """Replace the finished progress bar ``done`` with a new one (no bars without progress)."""
    if not progress:
        return None
    progress.remove_task(done)
    return progress.add_task(name, total=total)


def _month_row(
    p: Platform, day: date, income_before: dict[str, int], income_now: dict[str, int]
) -> dict[str, Any]:
    """The portfolio at a month's last day and the month's income by kind."""
    report = dayend.portfolio_report(p, day)
    return {
        "month": f"{day:%Y-%m}",
        "receivables_fen": report["receivables_fen"],
        "overdue_fen": report["overdue_fen"],
        "overdue_rate": round(report["overdue_rate"], 6),
        "provision_fen": report["provision_fen"],
        "written_off_fen": report["written_off_fen"],
        "accounts": report["accounts"],
        "overdue_accounts": report["overdue_accounts"],
        **{f"{k}_income_fen": income_now[k] - income_before[k] for k in income_now},
    }


def _outcome(p: Platform, people: list[Any], stats: Stats) -> dict[str, Any]:
    """The ledger check after the run, the population's profiles and what it did."""
    check = check_platform(p)
    return {
        "ledger_check_ok": bool(check.ok and check.in_transit_fen == 0),
        "ledger_accounts": sum(u.accounts for u in check.units),
        "profiles": {name: sum(1 for x in people if x.profile == name) for name, _ in PROFILES},
        "activity": {
            "purchases": stats.purchases,
            "purchase_fen": stats.purchase_fen,
            "installment_purchases": stats.installment_purchases,
            "refunds": stats.refunds,
            "repayments": stats.repayments,
            "bill_installments": stats.bill_splits,
            "refused": stats.refused,
        },
    }


def _add_months(day: date, months: int) -> date:
    from qianbao.credit.schedule import add_months

    return add_months(day, months)


def _income(p: Platform) -> dict[str, int]:
    out = {"interest": 0, "installment_fee": 0, "merchant_fee": 0}
    for unit, db in enumerate(p.units):
        for key, subject in (
            ("interest", "interest_income"),
            ("installment_fee", "installment_fee_income"),
            ("merchant_fee", "fee_income"),
        ):
            with contextlib.suppress(QianbaoError):
                out[key] += int(get_account(db, unit_account(subject, unit))["balance_fen"])
    return out


def _shop(
    p: Platform,
    pool: ThreadPoolExecutor,
    people: list[Person],
    merchants: list[str],
    rng: random.Random,
    day: date,
    month: int,
    stats: Stats,
    refunds_due: dict[date, list[tuple[str, str, int]]],
) -> None:
    orders = []
    for person in people:
        if rng.random() >= person.spend_per_month / 30:
            continue
        amount = max(100, int(rng.lognormvariate(0, 0.9) * person.mean_amount_fen))
        inst, sub = None, False
        if amount >= 100_000 and rng.random() < 0.3:
            inst = rng.choice([3, 6, 12])
            sub = rng.random() < 0.3
        orders.append((person, rng.choice(merchants), amount, inst, sub, rng.random()))

    # authorize each payment, then hand every unit's writer the whole day's commands at once
    # so it group-commits them (the real service command; only the submission is batched)
    pending = []
    for person, merchant, amount, inst, sub, luck in orders:
        try:
            command = purchases.huabei_payment_command(
                p,
                person.user_id,
                merchant,
                amount,
                f"sim-{day}-{luck}",
                PAY_PASSWORD if amount > 200_000 else None,
                installments=inst,
                subsidised=sub,
            )
        except QianbaoError as exc:
            stats.refuse(exc.code)
            continue
        pending.append(
            (
                merchant,
                amount,
                inst,
                luck,
                p.writer_for(person.user_id).submit_async(p.commands.bind(command)),
            )
        )
    for merchant, amount, inst, luck, future in pending:
        try:
            row = future.result(timeout=300)
        except QianbaoError as exc:
            stats.refuse(exc.code)
            continue
        stats.add("purchases")
        stats.add("purchase_fen", amount)
        stats.add("installment_purchases", int(inst is not None))
        if luck < 0.03:
            back = amount if luck < 0.02 else amount // 2
            refunds_due.setdefault(day + timedelta(days=1 + int(luck * 600)), []).append(
                (merchant, row["id"], back)
            )


def _refund(
    p: Platform, pool: ThreadPoolExecutor, due: list[tuple[str, str, int]], stats: Stats
) -> None:
    def one(item: tuple[str, str, int]) -> None:
        merchant, purchase_id, amount = item
        purchases.refund_huabei_purchase(
            p, merchant, purchase_id, amount, f"sim-refund-{purchase_id}"
        )
        stats.add("refunds")

    _parallel(pool, one, due, stats)


def _bills(p: Platform, user_id: str) -> list[dict[str, Any]]:
    return [s for s in reads.list_statements(p, user_id) if s["status"] in accounts.UNPAID]


def _repay(
    p: Platform,
    pool: ThreadPoolExecutor,
    people: list[Person],
    rng: random.Random,
    day: date,
    month: int,
    stats: Stats,
) -> None:
    """Hand repayments by profile; prompt payers mostly leave it to the automatic debit."""
    todo: list[tuple[Person, str]] = []
    for person in people:
        kind = person.profile
        if kind == "defaulter" and month >= person.default_month:
            continue
        if kind == "prompt" and day.day == 5 and rng.random() < 0.2:
            todo.append((person, "all"))
        elif kind == "splitter" and day.day == 4:
            todo.append((person, "split"))
        elif kind == "minimum" and day.day == 8:
            todo.append((person, "minimum"))
        elif kind in ("late", "defaulter") and day.day == (10 + person.late_days) % 28 + 1:
            todo.append((person, "all"))

    def one(item: tuple[Person, str]) -> None:
        person, what = item
        bills = _bills(p, person.user_id)
        if not bills:
            return
        if what == "split":
            big = [
                b
                for b in bills
                if b["status"] == "OPEN"
                and b["purchase_fen"] - b["installed_fen"] - (b["paid_fen"]) >= 50_000
            ]
            if big:
                installments.install_bill(
                    p,
                    person.user_id,
                    big[0]["statement_id"],
                    rng.choice([3, 6, 9, 12]),
                    f"sim-split-{day}",
                )
                stats.add("bill_splits")
            return
        payoff = repayments.payoff_fen(p, person.user_id)
        if what == "minimum":
            amount = sum(b["minimum_left_fen"] for b in bills if b["status"] == "OPEN")
            amount += sum(payoff[b["statement_id"]] for b in bills if b["status"] != "OPEN")
        else:
            amount = sum(payoff.values())
        if amount <= 0:
            return
        card = person.card_id if person.profile not in ("prompt", "splitter") else None
        repayments.repay(p, person.user_id, amount, f"sim-repay-{day}", PAY_PASSWORD, card_id=card)
        stats.add("repayments")

    _parallel(pool, one, todo, stats)


def write_report(out_dir: Path, summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monthly = summary["monthly"]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if not monthly:
        return
    with (out_dir / "monthly.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(monthly[0]))
        writer.writeheader()
        writer.writerows(monthly)
    months = [r["month"] for r in monthly]
    figures = {
        "receivables.png": (
            "Receivables (CNY)",
            {"receivables": [r["receivables_fen"] / 100 for r in monthly]},
        ),
        "overdue_rate.png": (
            "Overdue rate (share of receivables)",
            {"overdue rate": [r["overdue_rate"] for r in monthly]},
        ),
        "income.png": (
            "Income by month (CNY)",
            {
                "interest": [r["interest_income_fen"] / 100 for r in monthly],
                "installment fees": [r["installment_fee_income_fen"] / 100 for r in monthly],
                "merchant fees": [r["merchant_fee_income_fen"] / 100 for r in monthly],
            },
        ),
        "provision.png": (
            "Provision (CNY)",
            {
                "provision": [r["provision_fen"] / 100 for r in monthly],
                "written off (cumulative)": [r["written_off_fen"] / 100 for r in monthly],
            },
        ),
    }
    for name, (title, series) in figures.items():
        fig, ax = plt.subplots(figsize=(8, 4))
        for label, values in series.items():
            ax.plot(months, values, marker="o", label=label)
        ax.set_title(f"{title} — {summary['users']} users, seed {summary['seed']}")
        ax.tick_params(axis="x", rotation=45)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
