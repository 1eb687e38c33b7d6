"""The ops console's risk pages: the case queue and a decision's detail (server-rendered, no
script; sign-in and role check in ``ops_shell``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.members import roles
from qianbao.platform.errors import QianbaoError
from qianbao.risk import service as risk
from qianbao.web.ops_shell import OperatorCookie, operator_or_login, render

router = APIRouter(include_in_schema=False)


@router.get("/ops/risk/cases", response_class=HTMLResponse)
def cases(
    request: Request, p: PlatformDep, status: str = "", qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    rows = [dict(r) for r in risk.cases(p, status[:10] or None)]
    return render(request, op, "risk_cases.html", {"cases": rows, "status": status[:10]})


@router.get("/ops/risk/decisions/{decision_id}", response_class=HTMLResponse)
def decision(
    decision_id: str, request: Request, p: PlatformDep, qb_operator: OperatorCookie = None
) -> Response:
    op = operator_or_login(request, p, qb_operator, roles.READ)
    if isinstance(op, Response):
        return op
    try:
        d: dict[str, Any] = risk.public_decision(risk.get_decision(p, decision_id[:40]))
    except QianbaoError as exc:
        context = {"d": None, "error": exc.message}
        return render(request, op, "risk_decision.html", context, status_code=404)
    inputs = json.dumps(d["inputs"], indent=1, ensure_ascii=False)
    return render(request, op, "risk_decision.html", {"d": d, "inputs": inputs, "error": ""})
