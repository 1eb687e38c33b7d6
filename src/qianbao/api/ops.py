"""Operator endpoints (API key with a role): account look-up, ledger check and day closing, bank
follow-up and channel reconciliation."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from qianbao.api.checks import not_future
from qianbao.api.deps import Operator, PlatformDep
from qianbao.api.errors import AccountNotFound
from qianbao.api.ops_security import proposal
from qianbao.channels import reconcile as recon
from qianbao.ledger import closing
from qianbao.ledger import service as ledger
from qianbao.members import roles
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.errors import NotFound

router = APIRouter(prefix="/api/v1/ops", tags=["operations"])


@router.get("/users/{user_id}", summary="A user with balance")
def user(user_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return {
        **members.public_user(members.get_user(p, user_id)),
        "unit": p.unit_of(user_id),
        **payments.balance(p, user_id),
    }


@router.get("/accounts/{account_id}", summary="An account and its latest postings")
def account(
    account_id: str, p: PlatformDep, op: Operator, limit: int = Query(50, ge=1, le=500)
) -> dict[str, Any]:
    op.require("read")
    for db in p.units:
        try:
            row = ledger.get_account(db, account_id)
        except (NotFound, KeyError):
            continue
        return {"account": dict(row), "statement": ledger.statement(db, account_id, limit)}
    raise AccountNotFound(f"account {account_id} does not exist")


@router.post("/ledger/check", summary="Prove every unit's ledger sums to zero")
def ledger_check(p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    result = ledger.check_platform(p)
    return {
        "ok": result.ok,
        "status": result.status,
        "in_transit_fen": result.in_transit_fen,
        "units": [{**asdict(u), "ok": u.ok} for u in result.units],
    }


@router.post("/ledger/days/{day}/close", summary="Close a finished day (日结) in every unit")
def close_day(day: date, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.JOBS)
    return closing.close_day(p, not_future(day)).as_dict()


@router.get("/ledger/days/{day}", summary="A day's subject summary and trial balance (试算平衡)")
def trial_balance(day: date, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return closing.trial_balance(p, not_future(day)).as_dict()


@router.post("/bank-orders/resolve", summary="Query the bank about pending top-ups/withdrawals")
def resolve(
    p: PlatformDep, op: Operator, older_than_ms: int = Query(0, ge=0, le=10 * 365 * 86_400_000)
) -> dict[str, int]:
    op.require(roles.JOBS)
    return {"resolved": payments.resolve_pending_bank_orders(p, older_than_ms)}


@router.post(
    "/reconciliations/{channel}/{day}",
    summary="Reconcile a bank channel's statement of a finished day (渠道对账)",
)
def reconcile(channel: str, day: date, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.JOBS)
    return recon.reconcile(p, channel, not_future(day)).as_dict()


@router.post(
    "/channel-requests/{channel}/{request_id}/redrive",
    status_code=202,
    summary="Ask to send a declined payout again under a new request id (runs on approval)",
)
def redrive(channel: str, request_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    params = {"channel": channel, "request_id": request_id}
    return proposal(p, op, "redrive", f"{channel}/{request_id}", params)


@router.post(
    "/reconciliations/{channel}/{day}/differences/{request_id}/suspense",
    status_code=202,
    summary="Ask to book a BANK_ONLY line to suspense (长款/短款; runs on approval)",
)
def book_suspense(
    channel: str, day: date, request_id: str, p: PlatformDep, op: Operator
) -> dict[str, Any]:
    params = {"channel": channel, "day": not_future(day).isoformat(), "request_id": request_id}
    return proposal(p, op, "suspense", f"{channel}/{day}/{request_id}", params)


@router.get("/reconciliations/{channel}/{day}", summary="A stored reconciliation report")
def reconciliation(channel: str, day: date, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return recon.stored_report(p, channel, not_future(day))


@router.get(
    "/reconciliations/{channel}/{day}/differences.csv",
    summary="The differences of a stored reconciliation as CSV",
    response_class=PlainTextResponse,
)
def reconciliation_csv(channel: str, day: date, p: PlatformDep, op: Operator) -> PlainTextResponse:
    op.require("read")
    body = recon.differences_csv(recon.stored_report(p, channel, not_future(day)))
    return PlainTextResponse(body, media_type="text/csv")
