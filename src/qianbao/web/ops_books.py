"""The back office's books and plumbing: the ledger check (per unit, money in transit), each
unit's last closed day, a day's trial balance (试算平衡) and closing it (日结); the dead messages
of the relay (look, requeue); the audit log of operator actions (auditors)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.checks import not_future
from qianbao.api.deps import PlatformDep
from qianbao.api.security import csrf_guard
from qianbao.backoffice import audit
from qianbao.backoffice.errors import AuditQueryInvalid, MessageNotFound
from qianbao.ledger import closing
from qianbao.members import roles
from qianbao.members import service as members
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.errors import InvalidArgument, QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.web import pages
from qianbao.web.ops_forms import REASON_MAX, act, refused
from qianbao.web.ops_shell import OperatorCookie, operator_or_login, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
AUDIT_PAGE = 50
DAY_CHARS = 10


def _day(text: str) -> date:
    """A finished business day named by an operator (yesterday when blank)."""
    if not text.strip():
        return clock.today() - timedelta(days=1)
    try:
        day = date.fromisoformat(text.strip()[:DAY_CHARS])
    except ValueError as exc:
        raise InvalidArgument(f"{text[:DAY_CHARS]!r} is not a date (YYYY-MM-DD)") from exc
    return not_future(day)


def _books(p: Platform, day: date) -> dict[str, Any]:
    check = pages.recent_check(p)
    return {
        "check": check,
        "closed_days": pages.books_state(p)["closed_days"],
        "day": day.isoformat(),
        "trial": closing.trial_balance(p, day).as_dict(),
    }


@router.get("/ops/books", response_class=HTMLResponse)
def books(
    request: Request, p: PlatformDep, day: str = "", qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    try:
        context = _books(p, _day(day))
    except QianbaoError as exc:
        return refused(request, op, exc, "/ops/books")
    return render(request, op, "ops_books.html", context)


@router.post("/ops/books/check")
def check_now(request: Request, p: PlatformDep, qb_operator: OperatorCookie = None) -> Response:
    """Run the ledger check now (it scans every posting; the page shows one ≤ 1 min old)."""

    def run(op: members.Principal) -> None:
        pages.recent_check(p, fresh=True)

    return act(request, p, qb_operator, roles.READ, run, "/ops/books")


@router.post("/ops/books/close")
def close(
    request: Request,
    p: PlatformDep,
    day: Annotated[str, Form(max_length=DAY_CHARS)] = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    """Close a finished day in every unit whose trial balance holds (``jobs.run``)."""

    def run(op: members.Principal) -> None:
        closing.close_day(p, _day(day))

    back = "/ops/books?" + urlencode({"day": day[:DAY_CHARS]})
    return act(request, p, qb_operator, roles.JOBS, run, back, day=day)


# --- dead messages ------------------------------------------------------------------------------
def _dead(p: Platform) -> list[dict[str, Any]]:
    """The DEAD messages of every unit this process owns, with the unit they wait in."""
    return [
        {**m, "from_unit": unit} for unit in p.owned_units for m in p.relay.pending(unit, "DEAD")
    ]


@router.get("/ops/messages", response_class=HTMLResponse)
def dead_messages(request: Request, p: PlatformDep, qb_operator: OperatorCookie = None) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    return render(request, op, "ops_messages.html", {"messages": _dead(p), "m": None})


@router.get("/ops/messages/{message_id}", response_class=HTMLResponse)
def dead_message(
    message_id: str, request: Request, p: PlatformDep, qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    found = [m for m in _dead(p) if m["id"] == message_id]
    if not found:
        exc = MessageNotFound(f"no dead message {message_id[:40]}")
        return refused(request, op, exc, "/ops/messages")
    m = found[0]
    payload = json.dumps(json.loads(m["payload"]), indent=1, ensure_ascii=False)
    return render(request, op, "ops_messages.html", {"messages": [], "m": m, "payload": payload})


@router.post("/ops/messages/{message_id}/requeue")
def requeue_one(
    message_id: str,
    request: Request,
    p: PlatformDep,
    reason: Annotated[str, Form(max_length=REASON_MAX)] = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    """Deliver one dead message again (``jobs.run``: a relay job's retry, no new money)."""

    def run(op: members.Principal) -> None:
        if not p.relay.requeue_one(message_id):
            raise MessageNotFound(f"no dead message {message_id[:40]}")

    return act(request, p, qb_operator, roles.JOBS, run, "/ops/messages", reason=reason)


@router.post("/ops/messages/requeue")
def requeue_all(
    request: Request,
    p: PlatformDep,
    reason: Annotated[str, Form(max_length=REASON_MAX)] = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    def run(op: members.Principal) -> None:
        p.relay.requeue_dead()

    return act(request, p, qb_operator, roles.JOBS, run, "/ops/messages", reason=reason)


# --- audit log ----------------------------------------------------------------------------------
def _between_ms(day: str) -> tuple[int, int] | None:
    if not day.strip():
        return None
    try:
        start = date.fromisoformat(day.strip()[:DAY_CHARS])
    except ValueError as exc:
        raise AuditQueryInvalid(f"{day[:DAY_CHARS]!r} is not a date (YYYY-MM-DD)") from exc
    return start_of_day_ms(start), start_of_day_ms(start + timedelta(days=1))


@router.get("/ops/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    p: PlatformDep,
    operator: str = "",
    action: str = "",
    day: str = "",
    before: str = "",
    qb_operator: OperatorCookie = None,
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.AUDIT)
    if isinstance(op, Response):
        return op
    filters = {"operator": operator[:40], "action": action[:80], "day": day[:DAY_CHARS]}
    try:
        rows = audit.read(
            p,
            filters["operator"] or None,
            before[:40] or None,
            AUDIT_PAGE,
            filters["action"] or None,
            _between_ms(filters["day"]),
        )
    except QianbaoError as exc:
        return refused(request, op, exc, "/ops/audit")
    entries = [audit.public(r) for r in rows]
    older = ""
    if len(entries) == AUDIT_PAGE:
        older = "/ops/audit?" + urlencode({**filters, "before": entries[-1]["id"]})
    context = {"entries": entries, "filters": filters, "older": older}
    return render(request, op, "ops_audit.html", context)
