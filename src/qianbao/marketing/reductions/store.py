"""Full-reduction SQL: campaigns (global), budget slices and uses (unit)."""

from __future__ import annotations

from typing import Any

from qianbao.platform.db import Row, Tx


def insert_campaign(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO reduction_campaigns (id, name, funder, merchant_id, tiers_json,"
        " valid_from_ms, valid_until_ms, budget_fen, status, created_at_ms, updated_at_ms)"
        " VALUES (:id, :name, :funder, :merchant_id, :tiers_json, :valid_from_ms,"
        " :valid_until_ms, :budget_fen, 'ACTIVE', :now, :now)",
        row,
    )


def campaign(tx: Tx, campaign_id: str) -> Row | None:
    return tx.one("SELECT * FROM reduction_campaigns WHERE id = :id", {"id": campaign_id})


def campaigns(tx: Tx, limit: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM reduction_campaigns ORDER BY created_at_ms DESC, id DESC LIMIT :l",
        {"l": limit},
    )


def live_campaigns(tx: Tx, now_ms: int) -> list[Row]:
    return tx.all(
        "SELECT * FROM reduction_campaigns WHERE status = 'ACTIVE' AND valid_from_ms <= :t"
        " AND valid_until_ms > :t ORDER BY id",
        {"t": now_ms},
    )


def open_budget(tx: Tx, campaign_id: str, budget_fen: int) -> None:
    tx.execute(
        "INSERT INTO reduction_budgets (campaign_id, budget_fen, spent_fen) VALUES (:c, :b, 0)"
        " ON CONFLICT (campaign_id) DO NOTHING",
        {"c": campaign_id, "b": budget_fen},
    )


def budget(tx: Tx, campaign_id: str) -> Row | None:
    return tx.one("SELECT * FROM reduction_budgets WHERE campaign_id = :c", {"c": campaign_id})


def spend(tx: Tx, campaign_id: str, amount_fen: int) -> bool:
    """Take ``amount_fen`` from this unit's slice, guarded: never above its budget."""
    return bool(
        tx.execute(
            "UPDATE reduction_budgets SET spent_fen = spent_fen + :a WHERE campaign_id = :c"
            " AND spent_fen + :a <= budget_fen",
            {"a": amount_fen, "c": campaign_id},
        )
    )


def unspend(tx: Tx, campaign_id: str, amount_fen: int) -> None:
    tx.execute(
        "UPDATE reduction_budgets SET spent_fen = spent_fen - :a WHERE campaign_id = :c",
        {"a": amount_fen, "c": campaign_id},
    )


def insert_use(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO reduction_uses (payment_id, campaign_id, offer_fen, funder, refunded_fen,"
        " created_at_ms) VALUES (:payment_id, :campaign_id, :offer_fen, :funder, 0, :now)",
        row,
    )


def use(tx: Tx, payment_id: str) -> Row | None:
    return tx.one("SELECT * FROM reduction_uses WHERE payment_id = :p", {"p": payment_id})


def refund_use(tx: Tx, payment_id: str, amount_fen: int) -> bool:
    return bool(
        tx.execute(
            "UPDATE reduction_uses SET refunded_fen = refunded_fen + :a WHERE payment_id = :p"
            " AND refunded_fen + :a <= offer_fen",
            {"a": amount_fen, "p": payment_id},
        )
    )
