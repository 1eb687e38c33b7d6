"""The funding sources the engine owns: the wallet balance and a bound bank card (quick pay).

A card is charged at the bank before the unit command (a bank call never runs inside a
writer's transaction); the command then books the money as arrived in the bank reserve. If the
command refuses, ``reverse_card`` sends it straight back. Other sources (Huabei, later Yu'e
Bao) implement ``ports.FundingSource`` in their own package.
"""

from __future__ import annotations

import logging

from qianbao.channels.base import SUCCEEDED, UNKNOWN, ChannelTimeout
from qianbao.ledger.chart import unit_account, user_account
from qianbao.ledger.service import credit, debit
from qianbao.members import service as members
from qianbao.members import vault as members_vault
from qianbao.money_movement.commands import Pay, Refund
from qianbao.money_movement.errors import CardChargeFailed
from qianbao.money_movement.ports import Funded
from qianbao.money_movement.quote import Paid, Quote
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.money")


class BalanceFunding:
    def check_usable(self, p: Platform, payer_id: str) -> None:
        pass

    def confirm(self, ctx: WriteContext, ref: str) -> None:
        pass

    def take(self, ctx: WriteContext, pay: Pay, quote: Quote) -> Funded:
        return Funded([debit(user_account(pay.payer_id), quote.pays_fen)])

    def give_back(self, ctx: WriteContext, refund: Refund, paid: Paid, amount_fen: int) -> Funded:
        return Funded([credit(user_account(paid.payer_id), amount_fen)])


class CardFunding:
    """The card was charged before the command: the money is in the channel's reserve. A
    refund books it back to the reserve; the bank then pays the card (``payout_card``)."""

    def check_usable(self, p: Platform, payer_id: str) -> None:
        pass  # the card itself is checked when the use case reads it

    def confirm(self, ctx: WriteContext, ref: str) -> None:
        pass

    def take(self, ctx: WriteContext, pay: Pay, quote: Quote) -> Funded:
        reserve = unit_account("bank_reserve", ctx.unit, pay.card_channel)
        return Funded([debit(reserve, quote.pays_fen)])

    def give_back(self, ctx: WriteContext, refund: Refund, paid: Paid, amount_fen: int) -> Funded:
        card = members.get_card(ctx.platform, paid.payer_id, paid.card_id or "")
        reserve = unit_account("bank_reserve", ctx.unit, str(card["channel"]))
        return Funded([credit(reserve, amount_fen)])


def charge_card(p: Platform, card: Row, ref: str, amount_fen: int) -> None:
    """Quick pay: take the money from the card first; only a confirmed charge goes on."""
    channel = p.channels[card["channel"]]
    try:
        outcome = channel.charge(ref, members_vault.card_number(p, card), amount_fen)
    except ChannelTimeout:
        outcome = channel.query(ref)  # UNKNOWN means the bank never got it: nothing moved
    if outcome != SUCCEEDED:
        raise CardChargeFailed("the bank declined the card payment")


def reverse_card(p: Platform, card: Row, ref: str, amount_fen: int) -> None:
    """The command refused a charged payment: send the money straight back to the card."""
    _payout(p, card, ref + "R", amount_fen)


def payout_card(p: Platform, card: Row, ref: str, amount_fen: int) -> None:
    """A refund booked to the bank reserve: the bank now pays the card."""
    _payout(p, card, ref, amount_fen)


def _payout(p: Platform, card: Row, ref: str, amount_fen: int) -> None:
    channel = p.channels[card["channel"]]
    try:
        outcome = channel.payout(ref, members_vault.card_number(p, card), amount_fen)
    except ChannelTimeout:
        outcome = UNKNOWN
    if outcome != SUCCEEDED:  # the bank keeps the request id; an operator re-drives it
        log.error(
            "card payout %s of %s fen not confirmed by the bank: %s", ref, amount_fen, outcome
        )
