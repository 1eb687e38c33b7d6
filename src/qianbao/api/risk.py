"""Risk control over HTTP: the request context every money request carries, a payer answering
a challenge, and the operators' console (decisions, rules, freezes, lists, cases, approvals).

``ContextReader`` reads the context from the headers of every request (the API's and
the gateway's): ``X-Device-Id``, ``User-Agent``, ``X-Geo-Location`` ("lat,lon") and the client
IP — the socket's peer, or, when the peer is one of the configured trusted proxies
(``settings.extra["risk"]["trusted_proxies"]``), the right-most untrusted ``X-Forwarded-For``
hop. None of it authenticates anyone; see docs/risk/context.md for what each is trusted for.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from starlette.types import Scope

from qianbao.api.deps import Operator, PlatformDep, UserId
from qianbao.money_movement.context import RequestContext
from qianbao.platform.errors import InvalidArgument
from qianbao.risk import service as risk

router = APIRouter(tags=["risk"])
MERCHANT_SERVER_PATHS = ("/gateway.do",)  # a merchant server acting for the payer (codes)
CONTEXTS_KEPT = 4096
ops = "/api/v1/ops/risk"


class ContextReader:
    """The request's encoded context, read by the door (``api/door.py``) and set with ``use``
    around the request, in its own task, so endpoints (and the worker threads sync endpoints
    run on) see it. Clients send the same headers on every request: the encoding of each
    distinct context is kept (at most ``CONTEXTS_KEPT``, then forgotten at once)."""

    def __init__(self, trusted_proxies: tuple[str, ...] = ()) -> None:
        self.trusted = frozenset(trusted_proxies)
        self._encoded: dict[tuple[str, ...], str] = {}

    def encoded(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        agent = headers.get(b"user-agent", b"").decode("latin-1")
        if str(scope.get("path", "")).startswith(MERCHANT_SERVER_PATHS):
            # the merchant's server calls for the payer: its IP and agent describe the merchant,
            # so nothing of it may teach (or judge) the payer's devices and places
            key: tuple[str, ...] = ("merchant", agent)
        else:
            key = (
                headers.get(b"x-device-id", b"").decode("latin-1").strip(),
                self.client_ip(scope, headers),
                agent,
                headers.get(b"x-geo-location", b"").decode("latin-1").replace(" ", ""),
            )
        known = self._encoded.get(key)
        if known is None:
            if len(self._encoded) >= CONTEXTS_KEPT:
                self._encoded.clear()
            known = self._encoded[key] = _context(key).encode()
        return known

    def client_ip(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        peer = (scope.get("client") or ("", 0))[0] or ""
        if peer not in self.trusted:
            return str(peer)
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in self.trusted:
                return hop
        return str(peer)


def _context(key: tuple[str, ...]) -> RequestContext:
    if len(key) == 2:  # ("merchant", its agent)
        return RequestContext(user_agent=key[1])
    device_id, ip, agent, location = key
    return RequestContext(device_id=device_id, ip=ip, user_agent=agent, location=location)


def _plain(row: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(row).items() if "card_no" not in k and k != "command"}


class AnswerIn(BaseModel):
    pay_password: str | None = Field(None, min_length=1, max_length=64)
    code: str | None = Field(None, min_length=1, max_length=12, description="the SMS code")


@router.post("/api/v1/risk/challenges/{challenge_id}/code", summary="Send a one-time code")
def send_code(challenge_id: str, p: PlatformDep, user: UserId) -> dict[str, Any]:
    """A six-digit code by SMS to answer the challenge with, instead of the password."""
    return risk.send_code(p, user, challenge_id)


@router.post("/api/v1/risk/challenges/{challenge_id}/answer", summary="Answer a step-up")
def answer(challenge_id: str, body: AnswerIn, p: PlatformDep, user: UserId) -> dict[str, Any]:
    """The payment password again, or the code sent: the held movement then runs and its
    result is returned."""
    if (body.pay_password is None) == (body.code is None):
        raise InvalidArgument("give exactly one of pay_password and code")
    if body.code is not None:
        result = risk.answer_code(p, user, challenge_id, body.code)
    else:
        result = risk.answer_password(p, user, challenge_id, body.pay_password or "")
    return {"challenge_id": challenge_id, "status": "USED", "result": _plain(result)}


@router.get(f"{ops}/decisions", summary="A movement's risk decisions (or a party's)")
def decisions(
    p: PlatformDep,
    op: Operator,
    payment_id: str = Query("", max_length=40, description="any movement's id"),
    party_id: str = Query("", max_length=40),
) -> dict[str, Any]:
    op.require("read")
    rows = risk.decisions(p, movement_id=payment_id, party_id=party_id)
    return {"decisions": [risk.public_decision(r) for r in rows]}


@router.get(f"{ops}/rules", summary="The rule set in force")
def rules(p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    engine = risk.engine(p)
    rs = engine.rules.current
    return {
        "version": rs.version,
        "challenge_at": rs.challenge_at,
        "reject_at": rs.reject_at,
        "model_version": engine.model.version,
        "error": engine.rules.error,
        "rules": rs.summary(),
    }


@router.get(f"{ops}/shadow", summary="Shadow mode: where the candidate would decide otherwise")
def shadow(p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    candidate = risk.engine(p).shadow
    return {"enabled": False} if candidate is None else {"enabled": True, **candidate.report()}


@router.post(f"{ops}/rules/reload", summary="Re-read the rule file now")
def reload(p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    rs = risk.engine(p).rules.reload()
    return {"version": rs.version, "rules": len(rs.rules)}


class FreezeIn(BaseModel):
    party_kind: str = Field(pattern="^(USER|CARD|MERCHANT|user|card|merchant)$")
    party_id: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=200)


@router.post(f"{ops}/freezes", summary="Freeze a wallet, a card or a merchant")
def freeze(body: FreezeIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    return dict(risk.freeze(p, body.party_kind, body.party_id, body.reason, op.id))


@router.post(f"{ops}/freezes/unfreeze", summary="Lift a freeze")
def unfreeze(body: FreezeIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    return dict(risk.unfreeze(p, body.party_kind, body.party_id, body.reason, op.id))


@router.get(f"{ops}/freezes", summary="Freezes in force")
def freezes(p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return {"freezes": [dict(r) for r in risk.freezes(p)]}


class ListEntryIn(BaseModel):
    list_name: str = Field(max_length=8)
    kind: str = Field(max_length=10)
    value: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=200)


@router.post(f"{ops}/lists", summary="Put a user, device, card, IP or merchant on a list")
def put_list(body: ListEntryIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    return risk.put_list_entry(p, body.list_name, body.kind, body.value, body.reason, op.id)


@router.post(f"{ops}/lists/delete", summary="Take an entry off a list")
def delete_list(body: ListEntryIn, p: PlatformDep, op: Operator) -> dict[str, int]:
    op.require("write")
    return {"deleted": risk.delete_list_entry(p, body.list_name, body.kind, body.value)}


class CategoryIn(BaseModel):
    category: str = Field(min_length=1, max_length=30)


@router.put(f"{ops}/merchants/{{merchant_id}}/category", summary="A merchant's category")
def category(merchant_id: str, body: CategoryIn, p: PlatformDep, op: Operator) -> dict[str, str]:
    op.require("write")
    risk.set_category(p, merchant_id, body.category, op.id)
    return {"merchant_id": merchant_id, "category": body.category}


@router.post(f"{ops}/challenges/{{challenge_id}}/approve", summary="Approve a large refund")
def approve(challenge_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    """Two different operators approve; the refund runs at the second approval."""
    op.require("write")
    out = risk.approve(p, op.id, challenge_id)
    return {**out, "result": _plain(out["result"]) if out["result"] else None}


@router.get(f"{ops}/cases", summary="The case queue")
def cases(
    p: PlatformDep, op: Operator, status: str | None = Query(None, max_length=10)
) -> dict[str, Any]:
    op.require("read")
    return {"cases": [dict(r) for r in risk.cases(p, status)]}


@router.get(f"{ops}/cases/{{case_id}}", summary="A case with its notes")
def case(case_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return risk.get_case(p, case_id)


class CaseActionIn(BaseModel):
    assignee: str = Field("", max_length=60)
    text: str = Field("", max_length=2000)
    label: str = Field("", max_length=20)


@router.post(f"{ops}/cases/{{case_id}}/assign", summary="Assign a case")
def assign(case_id: str, body: CaseActionIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    return risk.assign(p, case_id, body.assignee or op.id)


@router.post(f"{ops}/cases/{{case_id}}/notes", summary="Add a note to a case")
def add_note(case_id: str, body: CaseActionIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    return risk.note(p, case_id, op.id, body.text)


@router.post(f"{ops}/cases/{{case_id}}/close", summary="Close a case with its label")
def close(case_id: str, body: CaseActionIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("write")
    return risk.close(p, case_id, op.id, body.label)


class WatchListIn(BaseModel):
    csv: str = Field(max_length=20_000_000, description="name,id_number a line")


@router.post(f"{ops}/watchlist", summary="Load the AML watch list (replaces the last one)")
def watchlist(body: WatchListIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    """Every existing user is screened against it at once (a case per hit); payouts and
    transfers are screened before they move money."""
    op.require("write")
    return risk.load_watchlist(p, body.csv, op.id)


@router.post(f"{ops}/reports/{{day}}", summary="Write a day's large-value and suspicious reports")
def reports(day: date, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return risk.daily_reports(p, day)


@router.get(
    f"{ops}/reports/{{day}}/{{kind}}.csv",
    summary="Download a report (大额 / 可疑)",
    response_class=PlainTextResponse,
)
def report_file(day: date, kind: str, p: PlatformDep, op: Operator) -> PlainTextResponse:
    op.require("read")
    path = risk.report_file(p, day, kind)
    return PlainTextResponse(path.read_text(encoding="utf-8"), media_type="text/csv")
