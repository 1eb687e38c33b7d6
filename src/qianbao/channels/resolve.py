"""Resolving reconciliation differences: what an operator may do about a line.

* ``redrive_payout``: a payout the bank declined but the ledger booked as made (a card refund,
  the reversal of a card charge) is sent again under a new request id.
* ``adopt_bank_only``: money the bank moved on a request we never sent is booked to suspense.

Each is idempotent and changes nothing when refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from qianbao.channels import queries
from qianbao.channels.base import SUCCEEDED, UNKNOWN, ChannelTimeout
from qianbao.channels.errors import (
    BankOrderNotRedriven,
    DifferenceAlreadyNoted,
    DifferenceNeedsBooking,
    DifferenceNotFound,
    NotAPayout,
    NotAtBank,
    PayoutAlreadyPaid,
    RequestNotFound,
)
from qianbao.channels.journal import open_account_no
from qianbao.channels.reconcile import channel_of, stored_report
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import credit, debit, open_account, post
from qianbao.platform import idempotency
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext


def redrive_payout(p: Platform, channel: str, request_id: str) -> dict[str, Any]:
    """Send a payout the bank declined (a card refund, a reversed card charge) again.

    The ledger booked these payouts as made, so a declined one is money the platform still owes
    the card holder: reconciliation shows it as a failed payout and a reserve difference. Each
    attempt is a new bank request ``<id>~<n>`` (the bank keeps each id's answer); concurrent
    attempts compute the same id, so the bank pays at most once. Top-ups and withdrawals are not
    re-driven here: their failures are booked (a withdrawal is reversed) by ``resolve-bank``.
    """
    bank = channel_of(p, channel)
    with p.global_db.read() as tx:
        row = tx.one(
            "SELECT * FROM channel_requests WHERE channel = :c AND request_id = :r",
            {"c": channel, "r": request_id},
        )
        attempts = tx.all(
            "SELECT request_id, status FROM channel_requests WHERE channel = :c"
            " AND redrive_of = :r",
            {"c": channel, "r": request_id},
        )
    if row is None:
        raise RequestNotFound(f"we never sent {request_id!r} to {channel}")
    if row["kind"] != "payout":
        raise NotAPayout("only a payout can be re-driven")
    if _is_bank_order(p, request_id):
        raise BankOrderNotRedriven(
            "top-ups and withdrawals settle through resolve-bank (a failed withdrawal is"
            " reversed to the wallet)"
        )
    paid = [a["request_id"] for a in attempts if a["status"] == SUCCEEDED]
    if bank.query(request_id) == SUCCEEDED or paid:
        raise PayoutAlreadyPaid(f"{request_id} is already paid")
    retry_id = f"{request_id}~{len(attempts) + 1}"
    status = _send_redrive(p, bank, row, retry_id)
    return {"request_id": retry_id, "redrive_of": request_id, "status": status}


def _send_redrive(p: Platform, bank: Any, row: Mapping[str, Any], retry_id: str) -> str:
    try:
        number = open_account_no(p.vault, row)
        status = str(bank.payout(retry_id, number, int(row["amount_fen"])))
    except ChannelTimeout:
        status = UNKNOWN
    with p.global_db.transaction() as tx:
        tx.execute(
            "UPDATE channel_requests SET redrive_of = :o WHERE channel = :c AND request_id = :r",
            {"o": row["request_id"], "c": row["channel"], "r": retry_id},
        )
    return status


def _is_bank_order(p: Platform, request_id: str) -> bool:
    """Top-up and withdrawal orders use their own id as the bank request id (routed by it)."""
    try:
        db = p.db_for(request_id)
    except ValueError:  # not one of our ids: a card refund or reversal reference
        return False
    with db.read() as tx:
        return bool(tx.scalar("SELECT COUNT(*) FROM bank_orders WHERE id = :r", {"r": request_id}))


@dataclass(frozen=True, slots=True)
class BookSuspense:
    """A ``BANK_ONLY`` line booked to suspense in unit 0, once per request id. A command as
    data (so it can be sent to unit 0's process); its own ``__call__`` is its handler."""

    channel: str
    day: str  # ISO date of the reconciliation
    request_id: str
    line: dict[str, Any]

    def __call__(self, ctx: WriteContext) -> str:
        scope, rid = f"suspense:{self.channel}", self.request_id
        if idempotency.claim(ctx.tx, scope, rid, self.line, rid) is not None:
            return rid
        amount = int(self.line["bank_amount_fen"])
        reserve = unit_account("bank_reserve", 0, self.channel)
        suspense = unit_account("suspense", 0)
        legs = [debit(reserve, amount), credit(suspense, amount)]
        if self.line["kind"] == "payout":
            legs = [credit(reserve, amount), debit(suspense, amount)]
        open_account(ctx.tx, suspense, "u0")
        post(ctx, "recon.suspense", rid, legs, memo=f"{self.channel} {self.day}")
        return rid


def adopt_bank_only(p: Platform, channel: str, day: date, request_id: str) -> dict[str, Any]:
    """Book a ``BANK_ONLY`` line of a stored reconciliation to suspense (长款/短款 待处理).

    The bank moved money on a request we never sent: until someone identifies it, the reserve
    follows the bank (a charge: debit the reserve, credit ``suspense``; a payout: the reverse)
    and the request enters our journal, so the day reconciles. Booking twice changes nothing.
    Clearing suspense (returning the money, or recognising it) is a later, separate decision.
    """
    line = _bank_only_line(p, channel, day, request_id)
    if channel_of(p, channel).query(request_id) != SUCCEEDED:
        raise NotAtBank(f"the bank no longer shows {request_id} as done")
    p.writers[0].submit(BookSuspense(channel, day.isoformat(), request_id, dict(line)))
    _adopt_into_journal(p, channel, line)
    return {
        "request_id": request_id,
        "kind": line["kind"],
        "amount_fen": int(line["bank_amount_fen"]),
        "account": unit_account("suspense", 0),
    }


def _bank_only_line(p: Platform, channel: str, day: date, request_id: str) -> dict[str, Any]:
    for d in stored_report(p, channel, day)["differences"]:
        if d["request_id"] == request_id and d["problem"] == "BANK_ONLY":
            return dict(d)
    raise DifferenceNotFound(f"{request_id} is not a BANK_ONLY line of {channel} {day}")


def _adopt_into_journal(p: Platform, channel: str, line: dict[str, Any]) -> None:
    with p.global_db.transaction() as tx:
        tx.execute(
            "INSERT INTO channel_requests (channel, request_id, kind, account_no, amount_fen,"
            " status, sent_at_ms, answered_at_ms) VALUES (:c, :r, :k, '', :a, 'SUCCEEDED', :now,"
            " :now) ON CONFLICT (channel, request_id) DO NOTHING",
            {
                "c": channel,
                "r": line["request_id"],
                "k": line["kind"],
                "a": line["bank_amount_fen"],
                "now": clock.now_ms(),
            },
        )


def note_resolved(
    p: Platform, channel: str, day: date, request_id: str, operator_id: str, note: str
) -> dict[str, Any]:
    """Mark a difference that needs no booking as investigated and settled, with the operator's
    note (once per line). A BANK_ONLY line is money the bank moved: it is booked to suspense."""
    for d in stored_report(p, channel, day)["differences"]:
        if d["request_id"] == request_id:
            if d["problem"] == "BANK_ONLY":
                raise DifferenceNeedsBooking("book a BANK_ONLY line to suspense instead")
            break
    else:
        raise DifferenceNotFound(f"{request_id} is not a difference of {channel} {day}")
    row = {
        "channel": channel,
        "day": day.isoformat(),
        "request_id": request_id,
        "operator_id": operator_id,
        "note": note[:200],
        "at": clock.now_ms(),
    }
    with p.global_db.transaction() as tx:
        if not queries.insert_note(tx, row):
            raise DifferenceAlreadyNoted(f"{request_id} was marked resolved already")
    return {k: row[k] for k in ("channel", "day", "request_id", "operator_id", "note")}


def notes(p: Platform, channel: str, day: date) -> dict[str, dict[str, Any]]:
    """The lines of a day marked resolved, by request id."""
    with p.global_db.read() as tx:
        return {str(r["request_id"]): dict(r) for r in queries.notes(tx, channel, day.isoformat())}
