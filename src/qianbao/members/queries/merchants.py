"""Merchant profile statements."""

from __future__ import annotations

from qianbao.platform.db import Tx


def set_category(tx: Tx, merchant_id: str, category: str) -> bool:
    """True when the merchant exists (and now has ``category``)."""
    return bool(
        tx.execute(
            "UPDATE merchants SET category = :c WHERE id = :id", {"c": category, "id": merchant_id}
        )
    )
