"""Card statements of the vault."""

from __future__ import annotations

from qianbao.platform.db import Row, Tx


def any_card(tx: Tx, user_id: str, card_id: str) -> Row | None:
    """A card of the user whatever its status (a pending bank order outlives an unbinding)."""
    return tx.one(
        "SELECT * FROM bank_cards WHERE id = :id AND user_id = :u", {"id": card_id, "u": user_id}
    )


def sealed_page(tx: Tx, after_id: str, limit: int) -> list[Row]:
    """Cards in id order after ``after_id``: the pages of a re-encryption."""
    return tx.all(
        "SELECT id, user_id, card_cipher FROM bank_cards WHERE id > :after ORDER BY id LIMIT :n",
        {"after": after_id, "n": limit},
    )


def set_cipher(tx: Tx, card_id: str, old: str, new: str) -> int:
    """Guarded: a row another process re-sealed meanwhile is left alone."""
    return tx.execute(
        "UPDATE bank_cards SET card_cipher = :new WHERE id = :id AND card_cipher = :old",
        {"new": new, "id": card_id, "old": old},
    )
