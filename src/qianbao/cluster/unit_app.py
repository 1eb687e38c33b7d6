"""The unit process's endpoint: commands and relay deliveries for the units it owns.

``POST /unit/v1/{unit}/commands`` ``{"command": CommandBus.encode(...)}`` runs the command in
the unit's writer (group commit with everything else waiting) and answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {type, code, message,
http_status}}`` for a domain error (the access layer raises the same class again).
``POST /unit/v1/{unit}/messages`` ``{"messages": [rows]}`` consumes relayed messages through
the inbox and answers the ids handled. ``POST /unit/v1/{unit}/batch`` ``{"commands": [...]}``
runs many commands together and answers ``{"ok": true, "results": [{"status", ...}, ...]}``,
in order (``platform/unit_wire.CommandLanes`` sends it). A unit this process does not own
answers 421, a process that is shutting down 503: the caller sees ``UNIT_UNAVAILABLE`` and
retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qianbao.platform.errors import InvalidArgument, QianbaoError
from qianbao.platform.lease import Lease
from qianbao.platform.messages import _consume_all
from qianbao.platform.remote import encode_error, jsonable, serve_on_this_loop
from qianbao.platform.runtime import Platform

log = logging.getLogger("qianbao.unit")


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, separators=(",", ":"), default=str).encode()
    return Response(body, status_code=status, media_type="application/json")


def _not_owned(p: Platform, unit: int) -> Response | None:
    if unit in p.owned_units and p.started:
        return None
    error = {"code": "UNIT_NOT_HERE", "message": f"unit {unit} is not here"}
    return _json({"ok": False, "error": error}, 421 if p.started else 503)


def _database_lost(exc: BaseException) -> bool:
    """The unit's PostgreSQL went away under the batch (killed, failing over, restarting)."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError)


def _database_away(unit: int, exc: BaseException) -> tuple[int, dict[str, Any]]:
    log.warning("unit %s: its database is not reachable (%s)", unit, str(exc).strip()[:200])
    error = {
        "code": "UNIT_DATABASE_AWAY",
        "message": f"unit {unit}'s database is not reachable; retry with the same request id",
    }
    return 503, {"ok": False, "error": error}


async def _body(request: Request) -> dict[str, Any]:
    data = json.loads(await request.body())
    if not isinstance(data, dict):
        raise InvalidArgument("the body must be a JSON object")
    return data


async def run_command(p: Platform, unit: int, data: Any) -> tuple[int, dict[str, Any]]:
    """One encoded command run in ``unit``'s writer: its status and answer."""
    try:
        decoded = p.commands.decode(data if isinstance(data, dict) else {})
        result = await p.writers[unit].run(p.commands.bind(decoded))
    except QianbaoError as exc:
        return 200, {"ok": False, "error": encode_error(exc)}
    except Exception as exc:  # a bug in a handler: logged here, a 500 there
        if _database_lost(exc):  # the batch rolled back or its outcome is unknown:
            return _database_away(unit, exc)  # the caller repeats it by request id
        log.exception("unit %s command failed", unit)
        return 500, {"ok": False, "error": encode_error(exc)}
    return 200, {"ok": True, "result": jsonable(result)}


def _health(p: Platform, leases: list[Lease], started_at: float) -> dict[str, Any]:
    return {
        "status": "ok" if p.started and all(le.alive() for le in leases) else "down",
        "pid": os.getpid(),
        "units": list(p.owned_units),
        "leases": {lease.unit: lease.holder for lease in leases},
        "uptime_s": round(time.time() - started_at, 1),
        "writers": {
            u: {"batches": p.writers[u].batches, "commands": p.writers[u].commands}
            for u in p.owned_units
        },
        "relay_delivered": p.relay.delivered,
    }


def build_unit_app(p: Platform, leases: list[Lease]) -> Starlette:
    """A bare Starlette app (no validation layer: the body is ours, from ``RemoteWriter``)."""
    started_at = time.time()

    async def command(request: Request) -> Response:
        unit = int(request.path_params["unit"])
        refused = _not_owned(p, unit)
        if refused is not None:
            return refused
        status, answer = await run_command(p, unit, (await _body(request)).get("command"))
        return _json(answer, status)

    async def batch(request: Request) -> Response:
        """Many commands (``unit_wire.CommandLanes``), run together: they wait for the same
        writer batch. Each has its own status and answer, in order."""
        unit = int(request.path_params["unit"])
        refused = _not_owned(p, unit)
        if refused is not None:
            return refused
        commands = (await _body(request)).get("commands")
        if not isinstance(commands, list):
            raise InvalidArgument("commands must be a list")
        outcomes = await asyncio.gather(*(run_command(p, unit, data) for data in commands))
        return _json({"ok": True, "results": [{"status": s, **a} for s, a in outcomes]})

    async def messages(request: Request) -> Response:
        unit = int(request.path_params["unit"])
        refused = _not_owned(p, unit)
        if refused is not None:
            return refused
        rows = list((await _body(request)).get("messages") or [])
        handled = await p.writers[unit].run(partial(_consume_all, messages=rows))
        return _json({"ok": True, "result": handled})

    async def health(request: Request) -> Response:
        return _json(_health(p, leases, started_at))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await serve_on_this_loop(p)  # its threads' commands to other units go through the loop
        yield

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/unit/v1/{unit:int}/commands", command, methods=["POST"]),
            Route("/unit/v1/{unit:int}/batch", batch, methods=["POST"]),
            Route("/unit/v1/{unit:int}/messages", messages, methods=["POST"]),
            Route("/unit/v1/health", health, methods=["GET"]),
        ],
    )
