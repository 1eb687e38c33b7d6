"""The rules every payment passes, named once: a valid amount, an active merchant, an
authorised payer within the KYC limits (per payment before the unit, per day inside it), and
the risk decision inside the unit (``check_risk``: the ``RiskCheck`` port, wired in bootstrap).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from qianbao.members import service as members
from qianbao.money_movement import limits
from qianbao.money_movement.errors import AmountInvalid, AmountTooLarge, MerchantFrozen
from qianbao.money_movement.ports import Movement
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext


def check_amount(p: Platform, amount_fen: Any) -> int:
    """Amounts are positive whole fen within the platform's maximum."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise AmountInvalid("amount_fen must be a whole number of fen")
    if amount_fen <= 0:
        raise AmountInvalid("amount_fen must be positive")
    if amount_fen > p.settings.max_amount_fen:
        raise AmountTooLarge("amount_fen is too large")
    return amount_fen


def payable_merchant(p: Platform, merchant_id: str) -> Row:
    """The merchant (read through the 5-second cache) if it may be paid now."""
    merchant = members.get_merchant_cached(p, merchant_id)
    if merchant["status"] != "ACTIVE":
        raise MerchantFrozen("merchant is not active")
    return merchant


@dataclass(frozen=True, slots=True)
class Authorised:
    """The payer may pay ``pays_fen`` now; ``daily_limit_fen`` is counted inside the unit."""

    payer: Row
    daily_limit_fen: int


def authorise(p: Platform, payer_id: str, pays_fen: int, pay_password: str | None) -> Authorised:
    """The payment password (unless within the password-free limit) and the per-payment limit."""
    payer = members.authorize_payment(p, payer_id, pays_fen, pay_password)
    return Authorised(payer, limits.check_per_payment(payer["kyc_level"], pays_fen).per_day_fen)


async def authorise_async(
    p: Platform, payer_id: str, pays_fen: int, pay_password: str | None
) -> Authorised:
    """``authorise`` for the event loop: a password (a slow argon2 check) on a worker thread."""
    if pay_password is None:
        return authorise(p, payer_id, pays_fen, None)
    return await asyncio.to_thread(authorise, p, payer_id, pays_fen, pay_password)


def count_daily(ctx: WriteContext, payer_id: str, pays_fen: int, daily_limit_fen: int) -> None:
    """Inside the unit: the payer's spending today, guarded by its KYC daily limit."""
    limits.count_daily(ctx, payer_id, pays_fen, daily_limit_fen)


def check_risk(ctx: WriteContext, movement: Movement) -> None:
    """Inside the unit, before any money moves: the risk decision (raises to refuse)."""
    risk = ctx.platform.money.risk
    if risk is not None:
        risk.check(ctx, movement)
