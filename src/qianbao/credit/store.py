"""The SQL of the credit tables, as small named functions (one statement each, but for
``write_off_account``).

Use cases decide; these functions read and write rows. They take the caller's ``Tx`` and plain
values (times in ms, dates as ``date``), never a platform, and raise nothing of their own: a
missing row is ``None`` and the use case names the error. The Huabei funding-source code in
``credit.purchases`` still carries its own statements (it moves to the money-movement engine
next, see docs/decisions/0206-credit-modules.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from qianbao.credit.machines import ACCOUNT, PERIOD, PLAN, STATEMENT
from qianbao.platform.db import Row, Tx

# The account counters a use case may shift (``shift_counters``); anything else is a bug.
COUNTERS = ("unbilled_fen", "billed_fen", "installment_fen", "charges_fen", "prepaid_fen")
# The paid column of each part of a bill, in ``credit_statements``.
PAID_COLUMN = {
    "interest": "interest_paid_fen",
    "inst_fee": "inst_fee_paid_fen",
    "inst_principal": "inst_principal_paid_fen",
    "purchase": "purchase_paid_fen",
}
UNPAID_SQL = "('OPEN', 'REVOLVING', 'OVERDUE')"
UNPAID = ("OPEN", "REVOLVING", "OVERDUE")
OPEN_ACCOUNT = ("ACTIVE", "FROZEN")  # the states an operator or a write-off moves from


# --- credit_accounts ----------------------------------------------------------------------------
def account(tx: Tx, user_id: str) -> Row | None:
    return tx.one("SELECT * FROM credit_accounts WHERE user_id = :u", {"u": user_id})


def account_exists(tx: Tx, user_id: str) -> bool:
    return (
        tx.one("SELECT 1 AS x FROM credit_accounts WHERE user_id = :u", {"u": user_id}) is not None
    )


def account_clash(tx: Tx, id_number_hash: str, phone: str, user_id: str) -> Row | None:
    """Another user's account with the same ID number or phone."""
    return tx.one(
        "SELECT user_id FROM credit_accounts WHERE (id_number_hash = :h"
        " OR phone = :ph) AND user_id <> :u",
        {"h": id_number_hash, "ph": phone, "u": user_id},
    )


def insert_account(
    tx: Tx,
    *,
    user_id: str,
    id_number_hash: str,
    phone: str,
    line_fen: int,
    due_day: int,
    review_date: date,
    tier_columns: Mapping[str, str],
    now_ms: int,
) -> None:
    tx.execute(
        "INSERT INTO credit_accounts (user_id, id_number_hash, phone, status, line_fen,"
        " due_day, autodebit, last_review_date, interest_rate, interest_band,"
        " interest_priced_by, created_at_ms, updated_at_ms) VALUES (:u, :h, :ph, 'ACTIVE',"
        " :line, :due, :auto, :today, :interest_rate, :interest_band, :interest_priced_by,"
        " :now, :now)",
        {
            **tier_columns,
            "u": user_id,
            "h": id_number_hash,
            "ph": phone,
            "line": line_fen,
            "due": due_day,
            "auto": True,
            "today": review_date.isoformat(),
            "now": now_ms,
        },
    )


def set_interest_tier(tx: Tx, user_id: str, tier_columns: Mapping[str, str], now_ms: int) -> None:
    tx.execute(
        "UPDATE credit_accounts SET interest_rate = :interest_rate, interest_band ="
        " :interest_band, interest_priced_by = :interest_priced_by, updated_at_ms = :now"
        " WHERE user_id = :u",
        {**tier_columns, "now": now_ms, "u": user_id},
    )


def set_last_review(tx: Tx, user_id: str, day: date) -> None:
    tx.execute(
        "UPDATE credit_accounts SET last_review_date = :d WHERE user_id = :u",
        {"d": day.isoformat(), "u": user_id},
    )


def set_line(tx: Tx, user_id: str, line_fen: int, now_ms: int) -> None:
    tx.execute(
        "UPDATE credit_accounts SET line_fen = :l, updated_at_ms = :now WHERE user_id = :u",
        {"l": line_fen, "now": now_ms, "u": user_id},
    )


def set_account_status(tx: Tx, user_id: str, status: str, frozen_reason: str, now_ms: int) -> None:
    """Freeze or unfreeze an account that is not closed."""
    ACCOUNT.move_all(
        tx,
        {"user_id": user_id},
        OPEN_ACCOUNT,
        status,
        frozen_reason=frozen_reason,
        updated_at_ms=now_ms,
    )


def set_autodebit(tx: Tx, user_id: str, enabled: bool) -> None:
    tx.execute(
        "UPDATE credit_accounts SET autodebit = :a WHERE user_id = :u",
        {"a": enabled, "u": user_id},
    )


def shift_counters(tx: Tx, user_id: str, now_ms: int | None = None, **delta_fen: int) -> None:
    """Add ``delta_fen`` to the named account counters (negative takes off) in one UPDATE;
    with ``now_ms`` the row's ``updated_at_ms`` too."""
    unknown = set(delta_fen) - set(COUNTERS)
    assert not unknown, f"not an account counter: {sorted(unknown)}"
    sets = [f"{c} = {c} + :{c}" for c in delta_fen]
    if now_ms is not None:
        sets.append("updated_at_ms = :now")
    tx.execute(
        f"UPDATE credit_accounts SET {', '.join(sets)} WHERE user_id = :u",
        {**delta_fen, "now": now_ms, "u": user_id},
    )


def clear_overdue_days(tx: Tx, user_id: str) -> None:
    tx.execute(
        "UPDATE credit_accounts SET overdue_days = 0 WHERE user_id = :u AND overdue_days > 0",
        {"u": user_id},
    )


# --- credit_line_changes ------------------------------------------------------------------------
def insert_line_change(
    tx: Tx,
    *,
    change_id: str,
    user_id: str,
    kind: str,
    old_line_fen: int,
    new_line_fen: int,
    decision: str,
    reason: str,
    actor: str,
    now_ms: int,
) -> None:
    tx.execute(
        "INSERT INTO credit_line_changes (id, user_id, kind, old_line_fen, new_line_fen, decision,"
        " reason, actor, created_at_ms) VALUES (:id, :u, :k, :o, :n, :d, :r, :a, :now)",
        {
            "id": change_id,
            "u": user_id,
            "k": kind,
            "o": old_line_fen,
            "n": new_line_fen,
            "d": decision,
            "r": reason,
            "a": actor,
            "now": now_ms,
        },
    )


def line_change(tx: Tx, change_id: str) -> Row | None:
    return tx.one("SELECT * FROM credit_line_changes WHERE id = :id", {"id": change_id})


def line_changes(tx: Tx, user_id: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM credit_line_changes WHERE user_id = :u ORDER BY created_at_ms",
        {"u": user_id},
    )


# --- credit_statements and their items ----------------------------------------------------------
def statement(tx: Tx, user_id: str, statement_id: str) -> Row | None:
    return tx.one(
        "SELECT * FROM credit_statements WHERE id = :id AND user_id = :u",
        {"id": statement_id, "u": user_id},
    )


def statements(tx: Tx, user_id: str) -> list[Row]:
    """Every bill of the user, newest first."""
    return tx.all(
        "SELECT * FROM credit_statements WHERE user_id = :u ORDER BY bill_date DESC",
        {"u": user_id},
    )


def unpaid_statements(tx: Tx, user_id: str) -> list[Row]:
    """Bills with something still owed (OPEN, REVOLVING, OVERDUE), oldest first."""
    return tx.all(
        f"SELECT * FROM credit_statements WHERE user_id = :u AND status IN {UNPAID_SQL}"
        " ORDER BY bill_date",
        {"u": user_id},
    )


def statements_accruing(tx: Tx, user_id: str, through: date) -> list[Row]:
    """Bills past their due date (REVOLVING, OVERDUE) whose interest stops before ``through``."""
    return tx.all(
        "SELECT * FROM credit_statements WHERE user_id = :u AND status IN"
        " ('REVOLVING', 'OVERDUE') AND interest_through < :d",
        {"u": user_id, "d": through.isoformat()},
    )


def statement_cut_on(tx: Tx, user_id: str, bill_date: date) -> bool:
    return (
        tx.one(
            "SELECT 1 AS x FROM credit_statements WHERE user_id = :u AND bill_date = :d",
            {"u": user_id, "d": bill_date.isoformat()},
        )
        is not None
    )


def has_overdue_statement(tx: Tx, user_id: str) -> bool:
    return (
        tx.one(
            "SELECT 1 AS x FROM credit_statements WHERE user_id = :u AND status = 'OVERDUE'",
            {"u": user_id},
        )
        is not None
    )


def on_time_statement_count(tx: Tx, user_id: str) -> int:
    return int(
        tx.scalar(
            "SELECT COUNT(*) FROM credit_statements WHERE user_id = :u AND status = 'PAID'"
            " AND paid_on <= due_date",
            {"u": user_id},
        )
        or 0
    )


def largest_bill_fen(tx: Tx, user_id: str) -> int:
    """The largest bill's purchases and installment principal (line use, for reviews)."""
    return int(
        tx.scalar(
            "SELECT COALESCE(MAX(purchase_fen + inst_principal_fen), 0) FROM credit_statements"
            " WHERE user_id = :u",
            {"u": user_id},
        )
        or 0
    )


def insert_statement(tx: Tx, row: Mapping[str, Any]) -> None:
    """A new bill; ``row`` names every column below (``statements.statement_row``)."""
    tx.execute(
        "INSERT INTO credit_statements (id, user_id, bill_date, due_date, deadline, status,"
        " purchase_fen, inst_principal_fen, inst_fee_fen, purchase_paid_fen, minimum_fen,"
        " interest_through, paid_on, interest_rate, interest_band, interest_priced_by,"
        " created_at_ms, updated_at_ms) VALUES (:id, :user_id, :bill_date, :due_date, :due_date,"
        " :status, :purchase_fen, :inst_principal_fen, :inst_fee_fen, :purchase_paid_fen,"
        " :minimum_fen, :due_date, :paid_on, :interest_rate, :interest_band,"
        " :interest_priced_by, :now, :now)",
        row,
    )


def insert_statement_items(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """Lines of bills: each row has statement_id, kind, ref, principal_fen, fee_fen, memo, now."""
    tx.executemany(
        "INSERT INTO credit_statement_items (statement_id, kind, ref, principal_fen, fee_fen, memo,"
        " created_at_ms) VALUES (:statement_id, :kind, :ref, :principal_fen, :fee_fen, :memo,"
        " :now)",
        rows,
    )


def statement_items(tx: Tx, statement_id: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM credit_statement_items WHERE statement_id = :s ORDER BY id",
        {"s": statement_id},
    )


def add_interest(tx: Tx, statement_id: str, interest_fen: int, through: date, now_ms: int) -> None:
    tx.execute(
        "UPDATE credit_statements SET interest_fen = interest_fen + :i,"
        " interest_through = :d, updated_at_ms = :now WHERE id = :id",
        {"i": interest_fen, "d": through.isoformat(), "now": now_ms, "id": statement_id},
    )


def add_paid(tx: Tx, statement_id: str, paid_fen: Mapping[str, int], now_ms: int) -> None:
    """Record repayments on a bill: ``paid_fen`` maps parts (``PAID_COLUMN``) to fen."""
    sets = ", ".join(f"{PAID_COLUMN[k]} = {PAID_COLUMN[k]} + :{k}" for k in paid_fen)
    tx.execute(
        f"UPDATE credit_statements SET {sets}, updated_at_ms = :now WHERE id = :id",
        {**paid_fen, "now": now_ms, "id": statement_id},
    )


def add_installed(
    tx: Tx, statement_id: str, installed_fen: int, minimum_fen: int, now_ms: int
) -> None:
    """Part of a bill's purchases went into a bill installment plan; its new minimum."""
    tx.execute(
        "UPDATE credit_statements SET installed_fen = installed_fen + :a, minimum_fen = :m,"
        " updated_at_ms = :now WHERE id = :id",
        {"a": installed_fen, "now": now_ms, "id": statement_id, "m": minimum_fen},
    )


# --- credit_purchases ---------------------------------------------------------------------------
def purchases_to_bill(tx: Tx, user_id: str, bill_date: date) -> list[Row]:
    """Purchases due on the bill of ``bill_date`` not yet on one: ``id`` and ``net`` (fen)."""
    return tx.all(
        "SELECT id, amount_fen - refunded_fen AS net FROM credit_purchases WHERE user_id = :u"
        " AND statement_id IS NULL AND plan_id IS NULL AND bill_date IS NOT NULL"
        " AND bill_date <= :d ORDER BY created_at_ms",
        {"u": user_id, "d": bill_date.isoformat()},
    )


def put_purchases_on(tx: Tx, statement_id: str, purchase_ids: Iterable[str]) -> None:
    tx.executemany(
        "UPDATE credit_purchases SET statement_id = :s WHERE id = :id",
        [{"s": statement_id, "id": pid} for pid in purchase_ids],
    )


def purchase(tx: Tx, purchase_id: str) -> Row | None:
    return tx.one("SELECT * FROM credit_purchases WHERE id = :id", {"id": purchase_id})


def put_purchase_in_plan(tx: Tx, purchase_id: str, plan_id: str, now_ms: int) -> bool:
    """A purchase not yet on a bill or in a plan joins ``plan_id`` (guarded: once)."""
    return bool(
        tx.execute(
            "UPDATE credit_purchases SET plan_id = :plan, updated_at_ms = :now WHERE id = :id"
            " AND plan_id IS NULL AND statement_id IS NULL",
            {"plan": plan_id, "id": purchase_id, "now": now_ms},
        )
    )


def purchases(tx: Tx, user_id: str, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM credit_purchases WHERE user_id = :u ORDER BY created_at_ms DESC LIMIT :l",
        {"u": user_id, "l": limit},
    )


# --- credit_plans and credit_plan_periods -------------------------------------------------------
def insert_plan(
    tx: Tx,
    *,
    plan_id: str,
    user_id: str,
    kind: str,
    source_id: str,
    principal_fen: int,
    fee_fen: int,
    fee_rate: str,
    periods: int,
    subsidised: bool,
    now_ms: int,
) -> None:
    tx.execute(
        "INSERT INTO credit_plans (id, user_id, kind, source_id, principal_fen, fee_fen, fee_rate,"
        " periods, subsidised, status, created_at_ms, updated_at_ms) VALUES (:id, :u, :k, :s, :p,"
        " :f, :r, :n, :sub, 'ACTIVE', :now, :now)",
        {
            "id": plan_id,
            "u": user_id,
            "k": kind,
            "s": source_id,
            "p": principal_fen,
            "f": fee_fen,
            "r": fee_rate,
            "n": periods,
            "sub": subsidised,
            "now": now_ms,
        },
    )


def insert_plan_periods(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows with plan_id, number, user_id, bill_date (ISO), principal_fen, fee_fen."""
    tx.executemany(
        "INSERT INTO credit_plan_periods (plan_id, number, user_id, bill_date, principal_fen,"
        " fee_fen, status) VALUES (:plan_id, :number, :user_id, :bill_date, :principal_fen,"
        " :fee_fen, 'PENDING')",
        rows,
    )


def plan(tx: Tx, user_id: str, plan_id: str) -> Row | None:
    return tx.one(
        "SELECT * FROM credit_plans WHERE id = :id AND user_id = :u", {"id": plan_id, "u": user_id}
    )


def plans(tx: Tx, user_id: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM credit_plans WHERE user_id = :u ORDER BY created_at_ms", {"u": user_id}
    )


def plan_of_source_exists(tx: Tx, source_id: str) -> bool:
    return (
        tx.one("SELECT 1 AS x FROM credit_plans WHERE source_id = :s", {"s": source_id}) is not None
    )


def pending_period_count(tx: Tx, plan_id: str) -> int:
    return int(
        tx.scalar(
            "SELECT COUNT(*) FROM credit_plan_periods WHERE plan_id = :p AND status = 'PENDING'",
            {"p": plan_id},
        )
        or 0
    )


def plan_status(tx: Tx, plan_id: str) -> str | None:
    value = tx.scalar("SELECT status FROM credit_plans WHERE id = :p", {"p": plan_id})
    return None if value is None else str(value)


def plan_periods(tx: Tx, plan_id: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM credit_plan_periods WHERE plan_id = :p ORDER BY number", {"p": plan_id}
    )


def pending_periods(tx: Tx, plan_id: str, *, last_first: bool = False) -> list[Row]:
    order = "DESC" if last_first else "ASC"
    return tx.all(
        "SELECT * FROM credit_plan_periods WHERE plan_id = :p AND status = 'PENDING'"
        f" ORDER BY number {order}",
        {"p": plan_id},
    )


def periods_to_bill(tx: Tx, user_id: str, bill_date: date) -> list[Row]:
    """Pending installment periods due by ``bill_date``, with their plan's ``subsidised``."""
    return tx.all(
        "SELECT pp.*, pl.subsidised FROM credit_plan_periods pp JOIN credit_plans pl"
        " ON pl.id = pp.plan_id WHERE pp.user_id = :u AND pp.status = 'PENDING'"
        " AND pp.bill_date <= :d ORDER BY pp.bill_date, pp.plan_id, pp.number",
        {"u": user_id, "d": bill_date.isoformat()},
    )


def put_periods_on(tx: Tx, statement_id: str, periods: Iterable[tuple[str, int]]) -> None:
    """Mark ``(plan_id, number)`` periods BILLED on ``statement_id``."""
    for period in periods:
        PERIOD.move(tx, period, "PENDING", "BILLED", statement_id=statement_id)


def set_period(
    tx: Tx, plan_id: str, number: int, principal_fen: int, fee_fen: int, status: str
) -> None:
    """A pending period shortened by a refund (``status`` PENDING, or REFUNDED when emptied)."""
    PERIOD.move(
        tx, (plan_id, number), "PENDING", status, principal_fen=principal_fen, fee_fen=fee_fen
    )


def settle_pending_periods(tx: Tx, plan_id: str) -> None:
    PERIOD.move_all(tx, {"plan_id": plan_id}, "PENDING", "SETTLED")


# --- credit_repayments --------------------------------------------------------------------------
def insert_repayment(
    tx: Tx,
    *,
    repayment_id: str,
    user_id: str,
    amount_fen: int,
    source: str,
    allocation_json: str,
    now_ms: int,
) -> None:
    tx.execute(
        "INSERT INTO credit_repayments (id, user_id, amount_fen, source, allocation,"
        " created_at_ms) VALUES (:id, :u, :a, :s, :al, :now)",
        {
            "id": repayment_id,
            "u": user_id,
            "a": amount_fen,
            "s": source,
            "al": allocation_json,
            "now": now_ms,
        },
    )


def repayment(tx: Tx, repayment_id: str) -> Row | None:
    return tx.one("SELECT * FROM credit_repayments WHERE id = :id", {"id": repayment_id})


def repayments(tx: Tx, user_id: str) -> list[Row]:
    return tx.all(
        "SELECT * FROM credit_repayments WHERE user_id = :u ORDER BY created_at_ms",
        {"u": user_id},
    )


# --- credit_installment_offers (in the trade's order unit) --------------------------------------
def offer(tx: Tx, merchant_id: str, out_trade_no: str) -> Row | None:
    return tx.one(
        "SELECT periods, seller_percent FROM credit_installment_offers"
        " WHERE merchant_id = :m AND out_trade_no = :o",
        {"m": merchant_id, "o": out_trade_no},
    )


def insert_offer(
    tx: Tx, merchant_id: str, out_trade_no: str, periods: int, seller_percent: int, now_ms: int
) -> None:
    tx.execute(
        "INSERT INTO credit_installment_offers (merchant_id, out_trade_no, periods,"
        " seller_percent, created_at_ms) VALUES (:m, :o, :n, :pct, :now)",
        {"m": merchant_id, "o": out_trade_no, "n": periods, "pct": seller_percent, "now": now_ms},
    )


def trade_order_exists(tx: Tx, merchant_id: str, out_trade_no: str) -> bool:
    """Whether payments holds a trade under this number (reads payments' ``trade_orders``
    until a TradeOrders port exists)."""
    return (
        tx.one(
            "SELECT 1 AS x FROM trade_orders WHERE merchant_id = :m AND out_trade_no = :o",
            {"m": merchant_id, "o": out_trade_no},
        )
        is not None
    )


def delete_orphan_offer(tx: Tx, merchant_id: str, out_trade_no: str) -> None:
    """Forget an offer unless a trade holds its number."""
    tx.execute(
        "DELETE FROM credit_installment_offers WHERE merchant_id = :m AND out_trade_no = :o"
        " AND NOT EXISTS (SELECT 1 FROM trade_orders t WHERE t.merchant_id = :m"
        " AND t.out_trade_no = :o)",
        {"m": merchant_id, "o": out_trade_no},
    )


# --- day end (unit-wide reads and batch writes of credit.dayend) --------------------------------
def billable_user_ids(tx: Tx) -> list[str]:
    """Every user whose account is not closed, in id order."""
    rows = tx.all("SELECT user_id FROM credit_accounts WHERE status <> 'CLOSED' ORDER BY user_id")
    return [r["user_id"] for r in rows]


def review_due_user_ids(tx: Tx, reviewed_before: date) -> list[str]:
    """Active accounts last reviewed on or before ``reviewed_before``."""
    rows = tx.all(
        "SELECT user_id FROM credit_accounts WHERE status = 'ACTIVE' AND last_review_date <= :d",
        {"d": reviewed_before.isoformat()},
    )
    return [r["user_id"] for r in rows]


def autodebit_user_ids(tx: Tx) -> set[str]:
    rows = tx.all("SELECT user_id FROM credit_accounts WHERE autodebit = :t", {"t": True})
    return {r["user_id"] for r in rows}


def deadline_user_ids(tx: Tx, day: date) -> set[str]:
    """Users with an OPEN or REVOLVING bill whose deadline is ``day``."""
    rows = tx.all(
        "SELECT user_id FROM credit_statements WHERE status IN ('OPEN', 'REVOLVING')"
        " AND deadline = :d",
        {"d": day.isoformat()},
    )
    return {r["user_id"] for r in rows}


def past_deadline_user_ids(tx: Tx, day: date) -> list[str]:
    """Users with an OPEN or REVOLVING bill whose deadline is ``day`` or before."""
    rows = tx.all(
        "SELECT DISTINCT user_id FROM credit_statements WHERE status IN"
        " ('OPEN', 'REVOLVING') AND deadline <= :d",
        {"d": day.isoformat()},
    )
    return [r["user_id"] for r in rows]


def unpaid_statements_due(tx: Tx, day: date, user_id: str | None = None) -> list[Row]:
    """Unpaid bills whose deadline is ``day`` or before (of one user, or of the whole unit)."""
    params: dict[str, Any] = {"d": day.isoformat()}
    mine = ""
    if user_id is not None:
        params["u"], mine = user_id, " AND user_id = :u"
    return tx.all(
        f"SELECT * FROM credit_statements WHERE status IN {UNPAID_SQL}{mine} AND deadline <= :d",
        params,
    )


def open_statements_due(tx: Tx, user_id: str, day: date) -> list[Row]:
    """The user's OPEN or REVOLVING bills whose deadline is ``day`` or before."""
    return tx.all(
        "SELECT * FROM credit_statements WHERE user_id = :u AND status IN"
        " ('OPEN', 'REVOLVING') AND deadline <= :d",
        {"u": user_id, "d": day.isoformat()},
    )


def unit_statements_accruing(tx: Tx, through: date) -> list[Row]:
    """Every REVOLVING or OVERDUE bill of the unit with interest not yet through ``through``."""
    return tx.all(
        "SELECT * FROM credit_statements WHERE status IN ('REVOLVING', 'OVERDUE')"
        " AND interest_through < :d ORDER BY user_id, bill_date",
        {"d": through.isoformat()},
    )


def add_interest_many(tx: Tx, interest_fen: Mapping[str, int], through: date, now_ms: int) -> None:
    """Add each bill's interest (by statement id) and move its interest date to ``through``."""
    tx.executemany(
        "UPDATE credit_statements SET interest_fen = interest_fen + :i, interest_through = :d,"
        " updated_at_ms = :now WHERE id = :id",
        [
            {"i": fen, "d": through.isoformat(), "now": now_ms, "id": sid}
            for sid, fen in interest_fen.items()
        ],
    )


def add_charges_many(tx: Tx, charges_fen: Mapping[str, int]) -> None:
    tx.executemany(
        "UPDATE credit_accounts SET charges_fen = charges_fen + :i WHERE user_id = :u",
        [{"i": fen, "u": user_id} for user_id, fen in charges_fen.items()],
    )


def overdue_since_by_user(tx: Tx) -> dict[str, str]:
    """The first day each user's oldest OVERDUE bill went overdue (ISO dates)."""
    rows = tx.all(
        "SELECT user_id, MIN(overdue_since) AS since FROM credit_statements"
        " WHERE status = 'OVERDUE' GROUP BY user_id"
    )
    return {r["user_id"]: r["since"] for r in rows}


def overdue_user_ids(tx: Tx) -> list[str]:
    """Accounts counted overdue yesterday."""
    return [
        r["user_id"] for r in tx.all("SELECT user_id FROM credit_accounts WHERE overdue_days > 0")
    ]


def set_overdue_days(tx: Tx, days_past_due: Mapping[str, int]) -> None:
    """Each account's days past due today, and the longest it has ever been."""
    tx.executemany(
        "UPDATE credit_accounts SET overdue_days = :d, max_overdue_days = CASE WHEN"
        " max_overdue_days < :d THEN :d ELSE max_overdue_days END WHERE user_id = :u",
        [{"d": d, "u": u} for u, d in days_past_due.items()],
    )


def insert_reminders(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """SMS reminders (user_id, day, days_past_due, overdue_fen, scheduled_at_ms), at most one
    a user a day."""
    tx.executemany(
        "INSERT INTO credit_reminders (user_id, day, days_past_due, overdue_fen, channel,"
        " scheduled_at_ms) VALUES (:user_id, :day, :days_past_due, :overdue_fen, 'SMS',"
        " :scheduled_at_ms) ON CONFLICT (user_id, day) DO NOTHING",
        rows,
    )


def write_off_account(tx: Tx, user_id: str, amount_fen: int, now_ms: int) -> None:
    """Close a written-off account: its bills, pending periods and active plans WRITTEN_OFF,
    its counters to zero, ``amount_fen`` added to what was written off (five statements: the
    counters' expression is no machine column, so they go first, then the account is closed)."""
    where = {"user_id": user_id}
    STATEMENT.move_all(tx, where, UNPAID, "WRITTEN_OFF", updated_at_ms=now_ms)
    PERIOD.move_all(tx, where, "PENDING", "WRITTEN_OFF")
    PLAN.move_all(tx, where, "ACTIVE", "WRITTEN_OFF", updated_at_ms=now_ms)
    tx.execute(
        "UPDATE credit_accounts SET written_off_fen = written_off_fen + :a, unbilled_fen = 0,"
        " billed_fen = 0, installment_fen = 0, charges_fen = 0, prepaid_fen = 0 WHERE user_id = :u",
        {"a": amount_fen, "u": user_id},
    )
    closed = {"frozen_reason": "written off", "updated_at_ms": now_ms}
    ACCOUNT.move_all(tx, where, OPEN_ACCOUNT, "CLOSED", **closed)


def receivables_by_overdue_days(tx: Tx) -> list[Row]:
    """Open accounts grouped by days past due: ``overdue_days``, ``n`` and ``owed`` (fen)."""
    return tx.all(
        "SELECT overdue_days, COUNT(*) AS n, SUM(unbilled_fen + billed_fen +"
        " installment_fen + charges_fen) AS owed FROM credit_accounts"
        " WHERE status <> 'CLOSED' GROUP BY overdue_days"
    )


def written_off_total_fen(tx: Tx) -> int:
    return int(tx.scalar("SELECT COALESCE(SUM(written_off_fen), 0) FROM credit_accounts") or 0)


def upsert_day_end(tx: Tx, row: Mapping[str, Any]) -> None:
    """The unit's portfolio row of a day (re-running the day replaces it)."""
    tx.execute(
        "INSERT INTO credit_day_end (day, accounts, overdue_accounts, receivables_fen,"
        " overdue_fen, bucket_receivables, provision_fen, written_off_fen, interest_income_fen,"
        " installment_fee_income_fen, created_at_ms) VALUES (:day, :accounts, :overdue_accounts,"
        " :receivables_fen, :overdue_fen, :bucket_receivables, :provision_fen, :written_off_fen,"
        " :interest_income_fen, :installment_fee_income_fen, :now) ON CONFLICT (day) DO UPDATE"
        " SET accounts = :accounts, overdue_accounts = :overdue_accounts, receivables_fen ="
        " :receivables_fen, overdue_fen = :overdue_fen, bucket_receivables ="
        " :bucket_receivables, provision_fen = :provision_fen, written_off_fen ="
        " :written_off_fen, interest_income_fen = :interest_income_fen,"
        " installment_fee_income_fen = :installment_fee_income_fen",
        row,
    )


def latest_day_end(tx: Tx, on_or_before: date) -> Row | None:
    return tx.one(
        "SELECT * FROM credit_day_end WHERE day <= :d ORDER BY day DESC LIMIT 1",
        {"d": on_or_before.isoformat()},
    )


def unpaid_statements_with_deadline(tx: Tx, deadlines: Sequence[str]) -> list[Row]:
    """The unit's OPEN or REVOLVING bills whose deadline is one of ``deadlines``."""
    if not deadlines:
        return []
    marks = ", ".join(f":d{i}" for i in range(len(deadlines)))
    return tx.all(
        "SELECT * FROM credit_statements WHERE status IN ('OPEN', 'REVOLVING')"
        f" AND deadline IN ({marks}) ORDER BY user_id, id",
        {f"d{i}": d for i, d in enumerate(deadlines)},
    )
