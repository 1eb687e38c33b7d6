"""Money out's SQL: settlement accounts (global), orders and the card-transfer allowance (unit)."""

from __future__ import annotations

from typing import Any

from qianbao.platform.db import Row, Tx

ORDER_COLUMNS = (
    "id, kind, owner_id, request_id, source_account, channel, account_no, holder_name,"
    " amount_fen, fee_fen, free_used_fen, month, memo, status, asked_bank, created_at_ms,"
    " updated_at_ms"
)


# --- the merchant's settlement account (global) ---------------------------------------------
def settlement_account(tx: Tx, merchant_id: str) -> Row | None:
    return tx.one("SELECT * FROM merchant_bank_accounts WHERE merchant_id = :m", {"m": merchant_id})


def save_settlement_account(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO merchant_bank_accounts (merchant_id, channel, account_no, holder_name,"
        " auto_payout, created_at_ms, updated_at_ms) VALUES (:merchant_id, :channel, :account_no,"
        " :holder_name, :auto_payout, :now, :now) ON CONFLICT (merchant_id) DO UPDATE SET"
        " channel = :channel, account_no = :account_no, holder_name = :holder_name,"
        " auto_payout = :auto_payout, updated_at_ms = :now",
        row,
    )


def auto_payout_merchants(tx: Tx) -> list[str]:
    rows = tx.all(
        "SELECT merchant_id FROM merchant_bank_accounts WHERE auto_payout = :t"
        " ORDER BY merchant_id",
        {"t": True},
    )
    return [str(r["merchant_id"]) for r in rows]


# --- orders (unit) ---------------------------------------------------------------------------
def insert_order(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        f"INSERT INTO money_out_orders ({ORDER_COLUMNS}) VALUES (:id, :kind, :owner_id,"
        " :request_id, :source_account, :channel, :account_no, :holder_name, :amount_fen,"
        " :fee_fen, :free_used_fen, :month, :memo, 'PENDING', :asked_bank, :created_at_ms,"
        " :updated_at_ms)",
        row,
    )


def order(tx: Tx, order_id: str) -> Row | None:
    return tx.one("SELECT * FROM money_out_orders WHERE id = :id", {"id": order_id})


def order_by_request(tx: Tx, owner_id: str, kind: str, request_id: str) -> Row | None:
    return tx.one(
        "SELECT * FROM money_out_orders WHERE owner_id = :o AND kind = :k AND request_id = :r",
        {"o": owner_id, "k": kind, "r": request_id},
    )


def orders_of(tx: Tx, owner_id: str, kind: str, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM money_out_orders WHERE owner_id = :o AND kind = :k"
        " ORDER BY created_at_ms DESC, id DESC LIMIT :l",
        {"o": owner_id, "k": kind, "l": limit},
    )


def pending_orders(tx: Tx, created_before_ms: int, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM money_out_orders WHERE status = 'PENDING' AND created_at_ms <= :c"
        " ORDER BY created_at_ms LIMIT :l",
        {"c": created_before_ms, "l": limit},
    )


def mark_asked(tx: Tx, order_id: str, now_ms: int) -> None:
    tx.execute(
        "UPDATE money_out_orders SET asked_bank = :t, updated_at_ms = :now WHERE id = :id",
        {"t": True, "now": now_ms, "id": order_id},
    )


# --- the monthly free allowance of card transfers (unit) -------------------------------------
def used_this_month(tx: Tx, user_id: str, month: str) -> int:
    return int(
        tx.scalar(
            "SELECT used_fen FROM card_transfer_quota WHERE user_id = :u AND month = :m",
            {"u": user_id, "m": month},
        )
        or 0
    )


def add_quota(tx: Tx, user_id: str, month: str, delta_fen: int) -> None:
    if delta_fen:
        tx.execute(
            "INSERT INTO card_transfer_quota (user_id, month, used_fen) VALUES (:u, :m, :d)"
            " ON CONFLICT (user_id, month) DO UPDATE SET"
            " used_fen = card_transfer_quota.used_fen + :d",
            {"u": user_id, "m": month, "d": delta_fen},
        )


def voucher_exists(tx: Tx, ref: str) -> bool:
    return tx.one("SELECT 1 AS x FROM vouchers WHERE ref = :r", {"r": ref}) is not None
