"""Operators' run-time controls (ADR 0940–0942): flow limits, degradation switches and the
circuit breakers' state. Reading needs ``read``, changing ``write``; the audit middleware
records every request with its path and query (the limit or switch and its new value)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from qianbao.api.deps import Operator, PlatformDep
from qianbao.members import roles
from qianbao.platform.errors import InvalidArgument

router = APIRouter(prefix="/api/v1/ops", tags=["operations"])
Reason = Annotated[str, Query(max_length=200, description="why (kept with the change)")]


@router.get("/controls", summary="Flow limits, degradation switches and circuit breakers")
def controls(p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.READ)
    return {**p.controls.describe(), "breakers": p.breakers.describe()}


@router.put("/limits/{name:path}", summary="Set a flow limit (RATE/BURST or off) at run time")
def set_limit(
    name: str,
    p: PlatformDep,
    op: Operator,
    value: Annotated[str, Query(max_length=40, description="RATE/BURST, e.g. 20/40, or off")],
    reason: Reason = "",
) -> dict[str, Any]:
    op.require(roles.WRITE)
    return p.controls.set_limit(name, value, op.id, reason)


@router.put("/switches/{name}", summary="Turn a degradation switch on or off at run time")
def set_switch(
    name: str,
    p: PlatformDep,
    op: Operator,
    state: Annotated[str, Query(pattern="^(on|off)$", description="on or off")],
    reason: Reason = "",
) -> dict[str, Any]:
    op.require(roles.WRITE)
    if state not in ("on", "off"):
        raise InvalidArgument("state is on or off")
    return p.controls.set_switch(name, state == "on", op.id, reason)


@router.post("/breakers/{name}/reset", summary="Close a circuit breaker now (after a fix)")
def reset_breaker(name: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.WRITE)
    names = {str(b["name"]) for b in p.breakers.describe()}
    if name not in names:
        raise InvalidArgument(f"unknown breaker {name!r}: one of {', '.join(sorted(names))}")
    breaker = p.breakers.get(name, 0.0)
    breaker.reset()
    return breaker.describe()
