"""Merchant payouts (商户提现): a merchant's settlement balance to its bank account on file.

A merchant is credited in the unit of whoever paid it, so its balance is spread over units
(``merchant_balance:<id>@u<n>``). A payout is one bank order in the merchant's home unit: what
the home sub-account lacks is first swept there from the other units (a voucher into the
in-transit account and a message, exactly once, like a cross-unit transfer), then the order
debits the home sub-account (guarded: never below zero) and goes to the bank.

The automatic daily payout (``run_auto_payouts``) pays each opted-in merchant's whole balance of
the previous day's close once per business day: its request id is ``auto-<date>``, so a re-run
finds the day's order and changes nothing. See docs/decisions/0720-merchant-payouts.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from qianbao.ledger.chart import in_transit
from qianbao.ledger.service import credit, debit, post
from qianbao.members import service as members
from qianbao.members.identity import luhn_ok
from qianbao.money_movement.guards import check_amount, payable_merchant
from qianbao.payments import service as payments
from qianbao.payments.moneyout import fees, orders, ports, store
from qianbao.payments.moneyout.errors import (
    FundsInTransit,
    HolderNameInvalid,
    MerchantBalanceNotEnough,
    PayoutAccountInvalid,
    PayoutAccountMissing,
)
from qianbao.platform import idempotency, messages
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.errors import IdempotencyKeyReused, InsufficientBalance
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

SWEEP_TOPIC = "moneyout.sweep"
SWEEP_WAIT_S = 5.0  # how long a payout waits for swept money to reach the home unit
SWEEP_ATTEMPTS = 5  # gather and debit again when a concurrent payout took the home money


# --- the settlement account on file ----------------------------------------------------------
def check_holder(name: str) -> str:
    name = name.strip()
    if not 2 <= len(name) <= 80 or not name.isprintable():
        raise HolderNameInvalid("account holder name must be 2–80 printable characters")
    return name


def set_settlement_account(
    p: Platform,
    merchant_id: str,
    account_no: str,
    holder_name: str,
    *,
    auto_payout: bool = False,
    channel: str = "SIMBANK",
) -> Row:
    """Put the merchant's bank account on file; the bank confirms it is the holder's."""
    members.get_merchant(p, merchant_id)
    account_no = account_no.replace(" ", "")
    if not luhn_ok(account_no):
        raise PayoutAccountInvalid("account number fails the Luhn check")
    holder = check_holder(holder_name)
    if channel not in p.channels:
        raise PayoutAccountInvalid(f"unknown channel {channel!r}")
    p.channels[channel].verify_card(account_no, holder)
    row = {
        "merchant_id": merchant_id,
        "channel": channel,
        "account_no": account_no,
        "holder_name": holder,
        "auto_payout": bool(auto_payout),
        "now": clock.now_ms(),
    }
    with p.global_db.transaction() as tx:
        store.save_settlement_account(tx, row)
    return settlement_account(p, merchant_id)


def settlement_account(p: Platform, merchant_id: str) -> Row:
    with p.global_db.read() as tx:
        row = store.settlement_account(tx, merchant_id)
    if row is None:
        raise PayoutAccountMissing("no settlement bank account on file")
    return row


def public_account(row: Row) -> dict[str, Any]:
    no = str(row["account_no"])
    return {
        "channel": row["channel"],
        "account": no[:4] + " **** " + no[-4:],
        "holder_name": row["holder_name"],
        "auto_payout": bool(row["auto_payout"]),
        "updated_at_ms": int(row["updated_at_ms"]),
    }


# --- sweeping a merchant's sub-accounts to its home unit --------------------------------------
@dataclass(frozen=True, slots=True)
class SweepMerchant:
    sweep_id: str
    merchant_id: str
    amount_fen: int
    home_unit: int


def handle_sweep(ctx: WriteContext, cmd: SweepMerchant) -> str:
    """In a unit that is not the merchant's home: its sub-account → in transit → home."""
    assert ctx.unit != cmd.home_unit, "a sweep leaves a unit for another"
    legs = [
        debit(members.merchant_account(cmd.merchant_id, ctx.unit), cmd.amount_fen),
        credit(in_transit(ctx.unit, cmd.home_unit), cmd.amount_fen),
    ]
    post(ctx, "merchant.sweep.out", cmd.sweep_id, legs)
    payload = {
        "sweep_id": cmd.sweep_id,
        "merchant_id": cmd.merchant_id,
        "amount_fen": cmd.amount_fen,
        "source_unit": ctx.unit,
    }
    messages.send(ctx, cmd.home_unit, SWEEP_TOPIC, payload)
    return cmd.sweep_id


def credit_sweep(ctx: WriteContext, payload: dict[str, Any]) -> None:
    """The relay's consumer in the home unit (exactly once, by the inbox)."""
    amount = int(payload["amount_fen"])
    legs = [
        debit(in_transit(ctx.unit, int(payload["source_unit"])), amount),
        credit(members.merchant_account(payload["merchant_id"], ctx.unit), amount),
    ]
    post(ctx, "merchant.sweep.in", payload["sweep_id"], legs)


def sweep_committed(tx: Tx, payload: dict[str, Any]) -> bool:
    return store.voucher_exists(tx, payload["sweep_id"])


def _payable_by_unit(p: Platform, merchant_id: str) -> list[int]:
    """Per unit, the merchant's sub-account less what must stay there for now (holds)."""
    by_unit = payments.merchant_balance(p, merchant_id)["by_unit_fen"]
    held = ports.held_by_unit(p, merchant_id)
    return [max(0, have - keep) for have, keep in zip(by_unit, held, strict=True)]


def _sweep_home(p: Platform, merchant_id: str, need_fen: int, free: list[int]) -> None:
    """Bring ``need_fen`` more to the home sub-account from what is free in the others, and wait
    (bounded) until each sweep has been credited there (its voucher in the home unit)."""
    home = p.unit_of(merchant_id)
    sweeps = []
    for unit, available in enumerate(free):
        if unit == home or need_fen <= 0 or available <= 0:
            continue
        take = min(available, need_fen)
        sweep = SweepMerchant(new_id(p.first_bucket(unit)), merchant_id, take, home)
        p.commands.submit(unit, sweep)
        sweeps.append(sweep.sweep_id)
        need_fen -= take
    deadline = time.monotonic() + SWEEP_WAIT_S
    while sweeps:
        with p.units[home].read() as tx:
            sweeps = [s for s in sweeps if not store.voucher_exists(tx, s)]
        if not sweeps:
            return
        if time.monotonic() > deadline:
            raise FundsInTransit("the balance is on its way between units: retry shortly")
        p.relay.wake()
        time.sleep(0.01)


# --- the payout ------------------------------------------------------------------------------
def request_payout(p: Platform, merchant_id: str, amount_fen: int, request_id: str) -> Row:
    """商户提现 of ``amount_fen`` to the account on file: PENDING, then SUCCEEDED or FAILED."""
    check_amount(p, amount_fen)
    idempotency.check_key(request_id)
    account = settlement_account(p, merchant_id)
    first = orders.find_order(p, merchant_id, orders.MERCHANT_PAYOUT, request_id)
    if first is not None:  # a replay: answered without sweeping anything again
        if int(first["amount_fen"]) != amount_fen:
            raise IdempotencyKeyReused("request id was used for another payout")
        return orders.drive(p, first)
    payable_merchant(p, merchant_id)  # a frozen merchant takes nothing out
    home = p.unit_of(merchant_id)
    command = orders.OpenMoneyOut(
        order_id=new_id(bucket_of(merchant_id)),
        kind=orders.MERCHANT_PAYOUT,
        owner_id=merchant_id,
        request_id=request_id,
        source_account=members.merchant_account(merchant_id, home),
        channel=str(account["channel"]),
        account_no=str(account["account_no"]),
        holder_name=str(account["holder_name"]),
        amount_fen=amount_fen,
    )
    for attempt in range(SWEEP_ATTEMPTS):
        free = _payable_by_unit(p, merchant_id)
        if sum(free) < amount_fen:
            raise MerchantBalanceNotEnough("settlement balance (less what is held) is short")
        try:
            if free[home] < amount_fen:
                _sweep_home(p, merchant_id, amount_fen - free[home], free)
            opened: Row = p.commands.submit(home, command)
        except InsufficientBalance:  # a concurrent payout took the money first: gather again
            if attempt == SWEEP_ATTEMPTS - 1:
                raise
            continue
        return orders.drive(p, opened)
    raise AssertionError("unreachable")


def run_auto_payouts(p: Platform, day: date) -> dict[str, Any]:
    """The automatic daily payout for ``day``: each opted-in merchant's whole balance, once."""
    config = fees.load(p.settings.extra.get("money_out"))
    with p.global_db.read() as tx:
        merchants = store.auto_payout_merchants(tx)
    paid, skipped, failed = [], [], []
    for merchant_id in merchants:
        key = f"auto-{day.isoformat()}"
        if orders.find_order(p, merchant_id, orders.MERCHANT_PAYOUT, key) is not None:
            skipped.append(merchant_id)  # done already: a re-run changes nothing
            continue
        total = sum(_payable_by_unit(p, merchant_id))  # less what may go back to customers
        if total < config.auto_payout_min_fen:
            skipped.append(merchant_id)
            continue
        try:
            paid.append(public_payout(request_payout(p, merchant_id, total, key)))
        except Exception:  # one merchant's trouble does not stop the others; retried next tick
            orders.log.exception("automatic payout of %s for %s failed", merchant_id, day)
            failed.append(merchant_id)
    return {"day": day.isoformat(), "paid": paid, "skipped": skipped, "failed": failed}


def get_payout(p: Platform, merchant_id: str, order_id: str) -> Row:
    return orders.get_order(p, merchant_id, orders.MERCHANT_PAYOUT, order_id, refresh=True)


def list_payouts(p: Platform, merchant_id: str, limit: int = 100) -> list[Row]:
    return orders.list_orders(p, merchant_id, orders.MERCHANT_PAYOUT, limit)


def public_payout(row: Row) -> dict[str, Any]:
    out = orders.public_order(row)
    out["merchant_id"] = row["owner_id"]
    return out
