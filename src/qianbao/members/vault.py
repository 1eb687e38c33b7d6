"""Card numbers at rest: sealed with the platform's vault (``platform/crypto.py``, AES-GCM),
with only a keyed token (to find a card and keep it unique per user) and the last four digits in
clear. The number is opened only to send it to the bank."""

from __future__ import annotations

from dataclasses import dataclass

from qianbao.members.errors import CardNotFound
from qianbao.members.queries import cards
from qianbao.platform.crypto import Vault
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform

TOKEN_PURPOSE = "card"


@dataclass(frozen=True)
class SealedCard:
    token: str
    last4: str
    cipher: str
    masked: str


def vault_of(p: Platform) -> Vault:
    if p.vault is None:
        raise RuntimeError("the platform's vault is not open: open the platform first")
    vault: Vault = p.vault
    return vault


def context(user_id: str) -> str:
    """The associated data: a sealed number opens only on its owner's card row."""
    return f"bank_cards:{user_id}"


def card_token(p: Platform, card_no: str) -> str:
    return vault_of(p).token(card_no, TOKEN_PURPOSE)


def seal_card(p: Platform, user_id: str, card_no: str) -> SealedCard:
    last4 = card_no[-4:]
    return SealedCard(
        token=card_token(p, card_no),
        last4=last4,
        cipher=vault_of(p).encrypt(card_no, context(user_id)),
        masked=f"**** {last4}",
    )


RESEAL_PAGE = 500


def reseal_cards(p: Platform) -> int:
    """Every card number sealed under the active data key (after ``Vault.rotate``), one page
    per transaction; returns how many were re-sealed. Safe to repeat or interrupt."""
    vault, after, done = vault_of(p), "", 0
    while True:
        with p.global_db.transaction() as tx:
            rows = cards.sealed_page(tx, after, RESEAL_PAGE)
            for r in rows:
                new = vault.reencrypt(str(r["card_cipher"]), context(str(r["user_id"])))
                if new != r["card_cipher"]:
                    done += cards.set_cipher(tx, str(r["id"]), str(r["card_cipher"]), new)
        if len(rows) < RESEAL_PAGE:
            return done
        after = str(rows[-1]["id"])


def order_card_number(p: Platform, user_id: str, card_id: str) -> str:
    """The number of the card a bank order was opened on (bound or not since)."""
    with p.global_db.read() as tx:
        card = cards.any_card(tx, user_id, card_id)
    if card is None:
        raise CardNotFound("the card of this bank order does not exist")
    return card_number(p, card)


def card_number(p: Platform, card: Row) -> str:
    """The full number of a bound card, for the bank request only (never logged or shown)."""
    return vault_of(p).decrypt(str(card["card_cipher"]), context(str(card["user_id"])))
