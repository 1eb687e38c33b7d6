"""The back office's bank reconciliation (渠道对账): the runs per channel and day, a run's
differences with their kind and how each is being resolved, and the resolutions themselves.

Money-moving resolutions are only *proposed* here and run when a second operator approves them
in the approvals queue (``web/ops_approvals.py``): booking a BANK_ONLY line to suspense
(``propose.suspense``) and re-driving a payout the bank declined (``propose.redrive``). Running a
reconciliation and the bank follow-up of pending orders (which settles NOT_SETTLED lines) are
jobs (``roles.JOBS``). The API's endpoints do the same (``api/ops.py``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.checks import not_future
from qianbao.api.deps import PlatformDep
from qianbao.api.errors import DayInvalid
from qianbao.api.security import csrf_guard
from qianbao.backoffice import approvals
from qianbao.channels import reconcile as recon
from qianbao.channels import resolve as fixes
from qianbao.channels.errors import DifferenceNotFound, NotAPayout
from qianbao.members import roles
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web.ops_actions import act, action_operator, need_reason
from qianbao.web.ops_shell import OperatorCookie, operator_or_login, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
HOME = "/ops/recon"
ID_MAX = 64
Reason = Annotated[str, Form(max_length=200)]


def _day(text: str) -> date:
    try:
        day = date.fromisoformat(text[:10])
    except ValueError as exc:
        raise DayInvalid(f"{text[:10]!r} is not a date (YYYY-MM-DD)") from exc
    return not_future(day)


def _report_url(channel: str, day: date) -> str:
    return f"{HOME}/{channel}/{day.isoformat()}"


def suspense_target(channel: str, day: date, request_id: str) -> str:
    return f"{channel}/{day.isoformat()}/{request_id}"  # as the API's proposal names it


def redrive_target(channel: str, request_id: str) -> str:
    return f"{channel}/{request_id}"


@router.get(HOME, response_class=HTMLResponse)
def runs(request: Request, p: PlatformDep, qb_operator: OperatorCookie = None) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    context = {
        "runs": recon.runs(p, 200),
        "channels": sorted(p.channels),
        "may_run": roles.JOBS in roles.permissions(op.role),
    }
    return render(request, op, "ops_recon.html", context)


def _report_view(p: Platform, channel: str, day: date) -> dict[str, Any]:
    """The stored report, each line with the approval that resolves it (if any)."""
    report = recon.stored_report(p, channel, day)
    lines = report["differences"]
    payouts = [recon.journal_request(p, channel, r) for r in report["failed_payouts"]]
    targets = [suspense_target(channel, day, d["request_id"]) for d in lines]
    targets += [redrive_target(channel, x["request_id"]) for x in payouts]
    done = {t: approvals.public(a) for t, a in approvals.on_targets(p, targets).items()}
    noted = fixes.notes(p, channel, day)
    for d in lines:
        d["resolution"] = done.get(suspense_target(channel, day, d["request_id"]))
        d["note"] = noted.get(d["request_id"])
    for x in payouts:
        x["resolution"] = done.get(redrive_target(channel, x["request_id"]))
    return {**report, "differences": lines, "payouts": payouts}


@router.get(HOME + "/{channel}/{day}", response_class=HTMLResponse)
def report(
    channel: str, day: str, request: Request, p: PlatformDep, qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    allowed = roles.permissions(op.role)
    may = {
        "suspense": roles.propose("suspense") in allowed,
        "redrive": roles.propose("redrive") in allowed,
        "jobs": roles.JOBS in allowed,
        "note": roles.JOBS in allowed,
    }
    try:
        r = _report_view(p, channel[:20], _day(day))
    except QianbaoError as exc:
        context = {"r": None, "error": f"{exc.code}: {exc.message}", "may": may}
        return render(request, op, "ops_recon_report.html", context, exc.http_status)
    return render(request, op, "ops_recon_report.html", {"r": r, "error": "", "may": may})


@router.post(HOME + "/run", response_class=HTMLResponse)
def run(
    request: Request,
    p: PlatformDep,
    channel: Annotated[str, Form(max_length=20)],
    day: Annotated[str, Form(max_length=10)],
    qb_operator: OperatorCookie = None,
) -> Response:
    target = {"channel": channel, "day": day}
    op = action_operator(request, p, qb_operator, roles.JOBS, target)
    if isinstance(op, Response):
        return op

    def go() -> dict[str, Any]:
        report = recon.reconcile(p, channel, _day(day))
        summary = report.as_dict()
        summary["differences"] = len(report.differences)
        summary["failed_payouts"] = len(report.failed_payouts)
        return summary

    return act(request, p, op, target, HOME, go)


def _bank_only(p: Platform, channel: str, day: date, request_id: str) -> dict[str, Any]:
    for d in recon.stored_report(p, channel, day)["differences"]:
        if d["request_id"] == request_id and d["problem"] == "BANK_ONLY":
            return dict(d)
    raise DifferenceNotFound(f"{request_id} is not a BANK_ONLY line of {channel} {day}")


def _propose(
    p: Platform, op: members.Principal, kind: str, target: str, params: dict[str, Any]
) -> dict[str, Any]:
    row = approvals.public(approvals.propose(p, op, kind, target, params))
    return {"approval_id": row["approval_id"], "kind": kind, "status": row["status"]}


@router.post(HOME + "/{channel}/{day}/suspense/{request_id}", response_class=HTMLResponse)
def propose_suspense(
    channel: str,
    day: str,
    request_id: str,
    request: Request,
    p: PlatformDep,
    reason: Reason = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    target = {"channel": channel, "day": day, "request_id": request_id[:ID_MAX]}
    op = action_operator(request, p, qb_operator, roles.propose("suspense"), target)
    if isinstance(op, Response):
        return op

    def go() -> dict[str, Any]:
        why, when = need_reason(reason), _day(day)
        line = _bank_only(p, channel, when, request_id)
        params = {
            "channel": channel,
            "day": when.isoformat(),
            "request_id": request_id,
            "amount_fen": int(line["bank_amount_fen"]),
            "reason": why,
        }
        return _propose(p, op, "suspense", suspense_target(channel, when, request_id), params)

    return act(request, p, op, target, f"{HOME}/{channel[:20]}/{day[:10]}", go)


@router.post(HOME + "/{channel}/{day}/redrive/{request_id}", response_class=HTMLResponse)
def propose_redrive(
    channel: str,
    day: str,
    request_id: str,
    request: Request,
    p: PlatformDep,
    reason: Reason = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    target = {"channel": channel, "day": day, "request_id": request_id[:ID_MAX]}
    op = action_operator(request, p, qb_operator, roles.propose("redrive"), target)
    if isinstance(op, Response):
        return op

    def go() -> dict[str, Any]:
        why = need_reason(reason)
        recon.channel_of(p, channel)  # an unknown channel is a 404
        sent = recon.journal_request(p, channel, request_id)
        if sent["kind"] != "payout":
            raise NotAPayout("only a payout can be re-driven")
        params = {
            "channel": channel,
            "request_id": request_id,
            "amount_fen": int(sent["amount_fen"]),
            "reason": why,
        }
        return _propose(p, op, "redrive", redrive_target(channel, request_id), params)

    return act(request, p, op, target, f"{HOME}/{channel[:20]}/{day[:10]}", go)


@router.post(HOME + "/{channel}/{day}/resolve/{request_id}", response_class=HTMLResponse)
def mark_resolved(
    channel: str,
    day: str,
    request_id: str,
    request: Request,
    p: PlatformDep,
    reason: Reason = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    """A line that needs no booking, investigated: marked resolved with the note (jobs.run)."""
    target = {"channel": channel, "day": day, "request_id": request_id[:ID_MAX]}
    op = action_operator(request, p, qb_operator, roles.JOBS, target)
    if isinstance(op, Response):
        return op

    def go() -> dict[str, Any]:
        why, when = need_reason(reason), _day(day)
        return fixes.note_resolved(p, channel, when, request_id[:ID_MAX], op.id, why)

    return act(request, p, op, target, f"{HOME}/{channel[:20]}/{day[:10]}", go)


@router.post(HOME + "/follow-up", response_class=HTMLResponse)
def follow_up(request: Request, p: PlatformDep, qb_operator: OperatorCookie = None) -> Response:
    """Ask the bank about pending top-ups and withdrawals (what settles NOT_SETTLED lines)."""
    op = action_operator(request, p, qb_operator, roles.JOBS, {})
    if isinstance(op, Response):
        return op
    return act(
        request, p, op, {}, HOME, lambda: {"resolved": payments.resolve_pending_bank_orders(p)}
    )
