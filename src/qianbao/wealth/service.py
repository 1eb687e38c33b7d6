"""Yu'e Bao's use cases: subscribe, redeem, and the holder's reads (holdings, orders, income,
the 7-day annualised yield). Writes are commands on the holder's unit writer."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

from qianbao.ledger.queries import postings_of_kind, sum_of_kind
from qianbao.ledger.service import balance_in, statement
from qianbao.members import service as members
from qianbao.money_movement.funding import charge_card, reverse_card
from qianbao.money_movement.guards import check_amount
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from qianbao.platform.idempotency import check_key
from qianbao.platform.runtime import Platform
from qianbao.wealth import state
from qianbao.wealth.errors import AmountInvalid, ModeInvalid, OrderNotFound, SourceInvalid
from qianbao.wealth.fundco import per_10k_text
from qianbao.wealth.model import YIELD_DAYS, seven_day_percent
from qianbao.wealth.orders import (
    BALANCE,
    CARD,
    FAST,
    NORMAL,
    Redeem,
    Subscribe,
    new_order_id,
    public_order,
)
from qianbao.wealth.store import orders as store

INCOME_KIND = "YEB_INCOME"
HISTORY_MAX = 400


def _amount(p: Platform, amount_fen: Any) -> int:
    try:
        return check_amount(p, amount_fen)
    except QianbaoError as exc:
        raise AmountInvalid(exc.message) from None


def subscribe(
    p: Platform,
    user_id: str,
    amount_fen: int,
    request_id: str,
    *,
    source: str = BALANCE,
    card_id: str | None = None,
) -> dict[str, Any]:
    """申购 from the wallet balance, or from a bound card (charged at the bank first; if the
    command then refuses, the charge is sent straight back)."""
    amount_fen = _amount(p, amount_fen)
    check_key(request_id)
    if source not in (BALANCE, CARD) or (source == CARD) != (card_id is not None):
        raise SourceInvalid("source is BALANCE, or CARD with the card_id of a bound card")
    if source == BALANCE:
        command = Subscribe(new_order_id(user_id), user_id, amount_fen, request_id)
        return dict(p.commands.submit(p.unit_of(user_id), command))
    card = members.get_card(p, user_id, card_id or "")
    body = f"{user_id}|{request_id}|{amount_fen}|{card_id}".encode()
    ref = "YEB" + hashlib.sha256(body).hexdigest()[:29]  # one charge per (key, body)
    charge_card(p, card, ref, amount_fen)
    command = Subscribe(
        new_order_id(user_id), user_id, amount_fen, request_id, CARD, card_id, str(card["channel"])
    )
    try:
        return dict(p.commands.submit(p.unit_of(user_id), command))
    except QianbaoError:
        reverse_card(p, card, ref, amount_fen)
        raise


def redeem(
    p: Platform, user_id: str, amount_fen: int, request_id: str, *, mode: str = FAST
) -> dict[str, Any]:
    """赎回 to the wallet balance: FAST (at once, within the daily limit) or NORMAL (T+1)."""
    amount_fen = _amount(p, amount_fen)
    check_key(request_id)
    if mode not in (FAST, NORMAL):
        raise ModeInvalid("mode is FAST or NORMAL")
    command = Redeem(new_order_id(user_id), user_id, amount_fen, request_id, mode)
    return dict(p.commands.submit(p.unit_of(user_id), command))


def shares_fen(p: Platform, user_id: str) -> int:
    """The holder's confirmed shares (fen), one read (the cashier shows it)."""
    with p.db_for(user_id).read() as tx:
        return balance_in(tx, state.shares(user_id))


def holdings(p: Platform, user_id: str) -> dict[str, Any]:
    db = p.db_for(user_id)
    cfg = state.of(p).config
    today = clock.today()
    with db.read() as tx:
        shares = balance_in(tx, state.shares(user_id))
        pending = balance_in(tx, state.pending(user_id))
        redeeming = balance_in(tx, state.redeeming(user_id))
        fast_used = store.fast_redeemed_fen(tx, user_id, today.isoformat())
        yesterday = postings_of_kind(tx, state.shares(user_id), INCOME_KIND, 1)
        total = sum_of_kind(tx, state.shares(user_id), INCOME_KIND)
    return {
        "user_id": user_id,
        "shares_fen": shares,  # 1 share = 1 fen (NAV 1.00)
        "value_fen": shares,
        "pending_fen": pending,
        "redeeming_fen": redeeming,
        "yesterday_income_fen": int(yesterday[0]["amount_fen"]) if yesterday else 0,
        "total_income_fen": total,
        "fast_redeem_left_fen": max(0, cfg.fast_redeem_daily_fen - fast_used),
        "seven_day_yield": seven_day_yield(p, today - timedelta(days=1)),
    }


def orders(p: Platform, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
    with p.db_for(user_id).read() as tx:
        return [public_order(r) for r in store.user_orders(tx, user_id, limit)]


def income_history(p: Platform, user_id: str, limit: int = 30) -> list[dict[str, Any]]:
    """The holder's daily income, newest first (the ledger's postings of the income runs), with
    the shares after each day's income (the statement's running balance)."""
    lines = statement(p.db_for(user_id), state.shares(user_id), limit=HISTORY_MAX)
    out = [
        {
            "day": line["ref"],
            "income_fen": line["amount_fen"],
            "shares_after_fen": line["balance_after_fen"],
        }
        for line in lines
        if line["kind"] == INCOME_KIND
    ]
    if len(out) < limit and len(lines) == HISTORY_MAX:  # older than the statement's window
        with p.db_for(user_id).read() as tx:
            rows = postings_of_kind(tx, state.shares(user_id), INCOME_KIND, limit)
        known = {o["day"] for o in out}
        out += [
            {"day": r["ref"], "income_fen": int(r["amount_fen"]), "shares_after_fen": None}
            for r in rows
            if r["ref"] not in known
        ]
    return out[:limit]


def seven_day_yield(p: Platform, last: date) -> dict[str, Any]:
    """七日年化: the mean of the last 7 days' 万份收益 ÷ 10,000 × 365, as a percentage with 3
    decimals (half-up); null until the fund has published 7 days."""
    rates = state.of(p).fund.rates(last - timedelta(days=YIELD_DAYS - 1), last)
    if len(rates) < YIELD_DAYS:
        return {"through": last.isoformat(), "percent": None, "per_10k": []}
    return {
        "through": last.isoformat(),
        "percent": seven_day_percent(list(rates.values())),
        "per_10k": [
            {"day": d.isoformat(), "per_10k": per_10k_text(e4)} for d, e4 in sorted(rates.items())
        ],
    }


def order_of(p: Platform, user_id: str, order_id: str) -> dict[str, Any]:
    with p.db_for(user_id).read() as tx:
        row = store.order(tx, order_id)
    if row is None or row["user_id"] != user_id:
        raise OrderNotFound("no such Yu'e Bao order")
    return public_order(row)
