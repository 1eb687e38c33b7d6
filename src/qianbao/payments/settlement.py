"""Merchant settlement: the settlement cycle (INSTANT or T+1), the day-end settlement job, and
the merchant's daily bill (对账单) of trades with its reconciliation with the ledger.

INSTANT (the default contract): a trade's net amount reaches the merchant's balance
(``merchant_balance``) when it is paid (instant trades) or released from escrow (secured trades),
and a refund takes it back.

T1: the net amount goes to the merchant's pending account (``merchant_unsettled``) and into the
day's OPEN settlement batch of that merchant in that unit (one row per merchant, day and unit,
updated in the same writer command as the trade's voucher). A refund takes its net amount out of
the day's batch first, and what the day's batch cannot cover from the merchant's balance (guarded:
``BALANCE_NOT_ENOUGH`` if that is short too, and nothing moves). The day-end job
(``run_settlement``) moves each OPEN batch of a day that is over to the balance with one voucher
(``settlement.t1``) and marks it SETTLED; a batch moves once, so re-running changes nothing.
See docs/decisions/0303-t1-settlement.md.

The bill lists the day's lines from the trade tables; ``reconcile`` recomputes the day's movement
of the merchant's accounts (balance and pending) from ledger postings independently, and the two
must agree to the fen. For a T1 merchant the bill's total also equals the day's batches
(gross − refunds − fee).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from qianbao.ledger.chart import account_id
from qianbao.ledger.service import Leg, credit, debit, open_account, post
from qianbao.members import service as members
from qianbao.payments.errors import (
    ConcurrentUpdate,
    DayNotOver,
    SettlementDayClosed,
    SettlementNotFound,
)
from qianbao.platform import idempotency
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.db import Row
from qianbao.platform.errors import QianbaoError
from qianbao.platform.ids import new_id
from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

INSTANT_CYCLE, T1 = "INSTANT", "T1"
OPEN, SETTLED = "OPEN", "SETTLED"
BATCH = StateMachine("settlement batch", "settlement_batches", {OPEN: {SETTLED}})


def unsettled_account(merchant_id: str, unit: int) -> str:
    """A T+1 merchant's pending settlement account in ``unit``."""
    return account_id("merchant_unsettled", f"{merchant_id}@u{unit}")


def cycle_of(p: Platform, merchant_id: str) -> str:
    return str(members.get_merchant_cached(p, merchant_id)["settle_cycle"] or INSTANT_CYCLE)


# --- booking trade money (inside a trade's writer command) ----------------------------------
def _open_batch(ctx: WriteContext, merchant_id: str, create: bool) -> Row | None:
    """Today's batch of the merchant in this unit; created (OPEN) when ``create``."""
    tx = ctx.tx
    day = clock.today().isoformat()
    args = {"m": merchant_id, "d": day}
    row = tx.one("SELECT * FROM settlement_batches WHERE merchant_id = :m AND day = :d", args)
    if row is None and create:
        now = clock.now_ms()
        tx.execute(
            "INSERT INTO settlement_batches (id, merchant_id, day, unit, status, created_at_ms,"
            " updated_at_ms) VALUES (:id, :m, :d, :u, 'OPEN', :now, :now)",
            {"id": new_id(ctx.platform.first_bucket(ctx.unit)), "u": ctx.unit, "now": now, **args},
        )
        open_account(tx, unsettled_account(merchant_id, ctx.unit), merchant_id)
        row = tx.one("SELECT * FROM settlement_batches WHERE merchant_id = :m AND day = :d", args)
    if row is not None and row["status"] != OPEN:
        raise SettlementDayClosed(f"settlement of {day} has already run")
    return dict(row) if row is not None else None


def _add(ctx: WriteContext, batch: Row, **deltas: int) -> None:
    sets = ", ".join(f"{c} = {c} + :{c}" for c in deltas)
    if not ctx.tx.execute(
        f"UPDATE settlement_batches SET {sets}, lines = lines + 1, updated_at_ms = :now"
        " WHERE id = :id AND status = 'OPEN' AND net_fen + :net_fen >= 0",
        {"id": batch["id"], "now": clock.now_ms(), **deltas},
    ):
        raise ConcurrentUpdate("settlement batch changed concurrently")


def book_in(ctx: WriteContext, merchant_id: str, gross_fen: int, fee_fen: int) -> list[Leg]:
    """The credit leg of a trade's money reaching the merchant (payment or release): the balance
    for an INSTANT contract, the pending account and today's batch for a T1 contract."""
    policy = PROCEEDS[cycle_of(ctx.platform, merchant_id)]
    return policy.book_in(ctx, merchant_id, gross_fen, fee_fen)


class ContractProceeds:
    """How a merchant is paid and refunds are taken back, by its settlement cycle (the
    money-movement engine's ``ProceedsPolicy`` for every kind of payment)."""

    def __init__(self, cycle: str) -> None:
        self.cycle = cycle

    def book_in(
        self, ctx: WriteContext, merchant_id: str, gross_fen: int, fee_fen: int
    ) -> list[Leg]:
        net = gross_fen - fee_fen
        if self.cycle != T1:
            return [credit(members.merchant_account(merchant_id, ctx.unit), net)]
        batch = _open_batch(ctx, merchant_id, create=True)
        assert batch is not None
        _add(ctx, batch, gross_fen=gross_fen, fee_fen=fee_fen, net_fen=net)
        return [credit(unsettled_account(merchant_id, ctx.unit), net)]

    def book_out(
        self, ctx: WriteContext, merchant_id: str, gross_fen: int, fee_fen: int
    ) -> list[Leg]:
        """A refund: out of today's pending batch while it has money, the rest from the
        merchant's balance. An INSTANT merchant with no batch today pays all from the balance
        (one that was T+1 earlier today still has its batch)."""
        net = gross_fen - fee_fen
        batch = _open_batch(ctx, merchant_id, create=self.cycle == T1)
        if batch is None:
            return [debit(members.merchant_account(merchant_id, ctx.unit), net)]
        take = min(net, int(batch["net_fen"]))
        _add(
            ctx,
            batch,
            refund_fen=gross_fen,
            fee_fen=-fee_fen,
            net_fen=-take,
            from_balance_fen=net - take,
        )
        return [
            debit(unsettled_account(merchant_id, ctx.unit), take),
            debit(members.merchant_account(merchant_id, ctx.unit), net - take),
        ]


PROCEEDS = {cycle: ContractProceeds(cycle) for cycle in (INSTANT_CYCLE, T1)}


# --- the day-end settlement job ---------------------------------------------------------------
def _settle_cmd(batch_id: str) -> Any:
    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        b = tx.one("SELECT * FROM settlement_batches WHERE id = :id", {"id": batch_id})
        if b is None:
            raise SettlementNotFound("no such settlement batch")
        if b["status"] != OPEN:
            return dict(b)  # settled by an earlier run: nothing to do
        idempotency.claim(
            tx,
            f"settlement:u{ctx.unit}",
            f"{b['merchant_id']}:{b['day']}",
            {"batch": batch_id},
            batch_id,
        )
        voucher_id = None
        if b["net_fen"]:
            voucher_id = post(
                ctx,
                "settlement.t1",
                batch_id,
                [
                    debit(unsettled_account(b["merchant_id"], ctx.unit), b["net_fen"]),
                    credit(members.merchant_account(b["merchant_id"], ctx.unit), b["net_fen"]),
                ],
                memo=f"{b['merchant_id']} {b['day']}",
            )
        BATCH.move(tx, batch_id, OPEN, SETTLED, voucher_id=voucher_id, settled_at_ms=clock.now_ms())
        return {**b, "status": SETTLED, "voucher_id": voucher_id}

    return command


def run_settlement(p: Platform, day: date | None = None) -> dict[str, int]:
    """Settle every OPEN batch of ``day`` (default: yesterday) and of any earlier day a missed
    run left open. Each batch is one command in its unit; a batch settles once, so running the
    job again (or from several places) changes nothing."""
    today = clock.today()
    day = day or today - timedelta(days=1)
    if day >= today:
        raise DayNotOver("only a day that is over can be settled")
    done = {"batches": 0, "net_fen": 0, "failed": 0}
    for unit, db in p.owned_dbs():
        with db.read() as tx:
            ids = [
                r["id"]
                for r in tx.all(
                    "SELECT id FROM settlement_batches WHERE status = 'OPEN' AND day <= :d"
                    " ORDER BY day, merchant_id",
                    {"d": day.isoformat()},
                )
            ]
        futures = [p.writers[unit].submit_async(_settle_cmd(i)) for i in ids]
        for fut in futures:
            try:
                row = fut.result(timeout=120)
            except QianbaoError:
                done["failed"] += 1
                continue
            done["batches"] += 1
            done["net_fen"] += int(row["net_fen"])
    return done


def list_batches(
    p: Platform, merchant_id: str, *, day: date | None = None, limit: int = 100
) -> list[Row]:
    """The merchant's settlement batches over all units, newest day first."""
    rows: list[Row] = []
    where = "merchant_id = :m" + (" AND day = :d" if day else "")
    for db in p.units:
        with db.read() as tx:
            rows += [
                dict(r)
                for r in tx.all(
                    f"SELECT * FROM settlement_batches WHERE {where} ORDER BY day DESC LIMIT :l",
                    {"m": merchant_id, "d": day.isoformat() if day else "", "l": limit},
                )
            ]
    return sorted(rows, key=lambda r: (r["day"], r["unit"]), reverse=True)[:limit]


def public_batch(b: Row) -> dict[str, Any]:
    return {
        "batch_id": b["id"],
        "merchant_id": b["merchant_id"],
        "day": b["day"],
        "unit": b["unit"],
        "status": b["status"],
        "gross_fen": b["gross_fen"],
        "refund_fen": b["refund_fen"],
        "fee_fen": b["fee_fen"],
        "from_balance_fen": b["from_balance_fen"],
        "net_fen": b["net_fen"],
        "bill_net_fen": b["gross_fen"] - b["refund_fen"] - b["fee_fen"],
        "lines": b["lines"],
        "voucher_id": b["voucher_id"],
        "settled_at_ms": b["settled_at_ms"],
    }


def pending_fen(p: Platform, merchant_id: str) -> int:
    """Money of a T1 merchant waiting for its settlement, over all units."""
    total = 0
    for unit, db in enumerate(p.units):
        with db.read() as tx:
            total += int(
                tx.scalar(
                    "SELECT balance_fen FROM accounts WHERE id = :id",
                    {"id": unsettled_account(merchant_id, unit)},
                )
                or 0
            )
    return total


TRADE_VOUCHERS = ("trade.pay", "trade.release", "trade.refund")
COLUMNS = (
    "type",
    "trade_no",
    "out_trade_no",
    "out_request_no",
    "subject",
    "time",
    "gross_fen",
    "fee_fen",
    "net_fen",
)


@dataclass
class Bill:
    merchant_id: str
    day: date
    lines: list[dict[str, Any]]
    cycle: str = INSTANT_CYCLE
    batches: list[Row] = field(default_factory=list)  # the day's T+1 settlement batches

    @property
    def gross_fen(self) -> int:
        return sum(int(x["gross_fen"]) for x in self.lines)

    @property
    def fee_fen(self) -> int:
        return sum(int(x["fee_fen"]) for x in self.lines)

    @property
    def net_fen(self) -> int:
        return sum(int(x["net_fen"]) for x in self.lines)


def _window(day: date) -> dict[str, int]:
    return {"a": start_of_day_ms(day), "b": start_of_day_ms(day + timedelta(days=1))}


def merchant_bill(p: Platform, merchant_id: str, day: date) -> Bill:
    merchant = members.get_merchant(p, merchant_id)
    args = {"m": merchant_id, **_window(day)}
    lines: list[dict[str, Any]] = []
    for db in p.units:
        with db.read() as tx:
            for t in tx.all(
                "SELECT * FROM trades WHERE merchant_id = :m AND product = 'INSTANT'"
                " AND paid_at_ms >= :a AND paid_at_ms < :b",
                args,
            ):
                fee = t["fee_fen"] + t["subsidy_fen"]  # a subsidised Huabei installment fee
                gross = t["total_amount_fen"] - _discount(t["coupon_funder"], t["coupon_fen"])
                gross -= _discount(t["offer_funder"], t["offer_fen"])
                lines.append(_line("PAYMENT", t, "", t["paid_at_ms"], gross, fee))
            for t in tx.all(
                "SELECT * FROM trades WHERE merchant_id = :m AND product = 'SECURED'"
                " AND status = 'TRADE_FINISHED' AND ended_at_ms >= :a"
                " AND ended_at_ms < :b",
                args,
            ):
                lines.append(
                    _line("RELEASE", t, "", t["ended_at_ms"], t["released_fen"], t["fee_fen"])
                )
            for r in tx.all(
                "SELECT r.*, t.out_trade_no, t.subject, t.product, t.coupon_funder,"
                " t.offer_funder"
                " FROM trade_refunds r"
                " JOIN trades t ON t.id = r.trade_id WHERE r.merchant_id = :m"
                " AND r.created_at_ms >= :a AND r.created_at_ms < :b",
                args,
            ):
                if r["product"] == "SECURED":  # from escrow: the merchant had not been paid
                    continue
                trade = {
                    "id": r["trade_id"],
                    "out_trade_no": r["out_trade_no"],
                    "subject": r["subject"],
                }
                lines.append(
                    _line(
                        "REFUND",
                        trade,
                        r["out_request_no"],
                        r["created_at_ms"],
                        -(
                            r["amount_fen"]
                            - _discount(r["coupon_funder"], r["coupon_refund_fen"])
                            - _discount(r["offer_funder"], r["offer_refund_fen"])
                        ),
                        -(r["fee_refund_fen"] + r["subsidy_refund_fen"]),
                    )
                )
    lines.sort(key=lambda x: (x["time_ms"], x["trade_no"], x["type"]))
    batches = sorted(list_batches(p, merchant_id, day=day), key=lambda b: b["unit"])
    return Bill(merchant_id, day, lines, merchant["settle_cycle"], batches)


def _discount(funder: str, coupon_fen: int) -> int:
    """A merchant-funded coupon (or full-reduction offer) is a discount: the merchant's gross is
    that much less. A platform-funded one is paid by the platform: the merchant's gross is the
    full amount."""
    return int(coupon_fen) if funder == "MERCHANT" else 0


def _line(
    kind: str, t: Any, out_request_no: str, at_ms: int, gross: int, fee: int
) -> dict[str, Any]:
    from qianbao.openapi.notify import ms_to_text

    return {
        "type": kind,
        "trade_no": t["id"],
        "out_trade_no": t["out_trade_no"],
        "out_request_no": out_request_no,
        "subject": t["subject"],
        "time": ms_to_text(at_ms),
        "time_ms": at_ms,
        "gross_fen": int(gross),
        "fee_fen": int(fee),
        "net_fen": int(gross) - int(fee),
    }


def ledger_net_fen(p: Platform, merchant_id: str, day: date) -> int:
    """What trade vouchers of ``day`` did to the merchant's accounts (balance and T+1 pending),
    from postings. Settlement vouchers only move money between the two and are not counted."""
    total = 0
    for unit, db in enumerate(p.units):
        with db.read() as tx:
            total += int(
                tx.scalar(
                    "SELECT COALESCE(SUM(ps.amount_fen), 0) FROM postings ps"
                    " JOIN vouchers v ON v.id = ps.voucher_id"
                    " WHERE ps.account_id IN (:bal, :pending)"
                    " AND v.kind IN ('trade.pay', 'trade.release', 'trade.refund')"
                    " AND v.created_at_ms >= :a AND v.created_at_ms < :b",
                    {
                        "bal": members.merchant_account(merchant_id, unit),
                        "pending": unsettled_account(merchant_id, unit),
                        **_window(day),
                    },
                )
                or 0
            )
    return total  # credit-positive: a liability to the merchant


def reconcile(p: Platform, merchant_id: str, day: date) -> dict[str, int]:
    bill = merchant_bill(p, merchant_id, day)
    ledger = ledger_net_fen(p, merchant_id, day)
    return {
        "bill_net_fen": bill.net_fen,
        "ledger_net_fen": ledger,
        "difference_fen": bill.net_fen - ledger,
    }


def bill_csv(bill: Bill) -> str:
    """The downloadable bill: amounts in yuan, a header block and a totals line."""
    out = io.StringIO()
    out.write(
        f"# Qianbao merchant bill {bill.day.isoformat()} merchant {bill.merchant_id}"
        f" settlement {bill.cycle}\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "type",
            "trade_no",
            "out_trade_no",
            "out_request_no",
            "subject",
            "time",
            "gross_amount",
            "fee",
            "net_amount",
        ]
    )
    for x in bill.lines:
        writer.writerow(
            [
                x["type"],
                x["trade_no"],
                x["out_trade_no"],
                x["out_request_no"],
                x["subject"],
                x["time"],
                fen_to_yuan(x["gross_fen"]),
                fen_to_yuan(x["fee_fen"]),
                fen_to_yuan(x["net_fen"]),
            ]
        )
    writer.writerow(
        [
            "TOTAL",
            "",
            "",
            "",
            f"{len(bill.lines)} lines",
            "",
            fen_to_yuan(bill.gross_fen),
            fen_to_yuan(bill.fee_fen),
            fen_to_yuan(bill.net_fen),
        ]
    )
    for b in bill.batches:  # T+1: the day's settlement batches; their gross - fee sums to TOTAL
        writer.writerow(
            [
                "SETTLEMENT",
                b["id"],
                "",
                b["status"],
                f"T1 batch {b['day']} unit {b['unit']}; paid from balance"
                f" {fen_to_yuan(b['from_balance_fen'])}; settled {fen_to_yuan(b['net_fen'])}",
                "" if b["settled_at_ms"] is None else _time_text(b["settled_at_ms"]),
                fen_to_yuan(b["gross_fen"] - b["refund_fen"]),
                fen_to_yuan(b["fee_fen"]),
                fen_to_yuan(b["gross_fen"] - b["refund_fen"] - b["fee_fen"]),
            ]
        )
    return out.getvalue()


def _time_text(ms: int) -> str:
    from qianbao.openapi.notify import ms_to_text

    return ms_to_text(ms)
