"""The ops console's risk pages: the case queue and a decision's detail (operator API key in a
cookie, set by the login form; server-rendered, no script)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from qianbao.api.deps import PlatformDep
from qianbao.api.security import csrf_guard
from qianbao.members import service as members
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.risk import service as risk

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])  # every form
OPERATOR_COOKIE = "qb_operator"
OperatorCookie = Annotated[str | None, Cookie(alias=OPERATOR_COOKIE)]


def _operator(p: Platform, key: str | None) -> members.Principal | None:
    if not key:
        return None
    try:
        principal = members.principal_for_key(p, key)
    except QianbaoError:
        return None
    return principal if principal.kind == "operator" else None


def _login(request: Request, error: str = "") -> HTMLResponse:
    return templates.TemplateResponse(
        request, "risk_login.html", {"error": error}, status_code=401 if error else 200
    )


@router.post("/ops/risk/login")
def login(request: Request, p: PlatformDep, api_key: Annotated[str, Form()]) -> Response:
    if _operator(p, api_key.strip()) is None:
        return _login(request, "API key unknown or not an operator's")
    response = RedirectResponse("/ops/risk/cases", status_code=303)
    response.set_cookie(OPERATOR_COOKIE, api_key.strip(), httponly=True, samesite="strict")
    return response


@router.get("/ops/risk/cases", response_class=HTMLResponse)
def cases(
    request: Request, p: PlatformDep, status: str = "", qb_operator: OperatorCookie = None
) -> HTMLResponse:
    if _operator(p, qb_operator) is None:
        return _login(request)
    rows = [dict(r) for r in risk.cases(p, status[:10] or None)]
    return templates.TemplateResponse(
        request, "risk_cases.html", {"cases": rows, "status": status[:10]}
    )


@router.get("/ops/risk/decisions/{decision_id}", response_class=HTMLResponse)
def decision(
    decision_id: str, request: Request, p: PlatformDep, qb_operator: OperatorCookie = None
) -> HTMLResponse:
    if _operator(p, qb_operator) is None:
        return _login(request)
    try:
        d: dict[str, Any] = risk.public_decision(risk.get_decision(p, decision_id[:40]))
    except QianbaoError as exc:
        return templates.TemplateResponse(
            request, "risk_decision.html", {"d": None, "error": exc.message}, status_code=404
        )
    inputs = json.dumps(d["inputs"], indent=1, ensure_ascii=False)
    return templates.TemplateResponse(
        request, "risk_decision.html", {"d": d, "inputs": inputs, "error": ""}
    )
