"""The unit process's endpoint: commands and relay deliveries for the units it owns.

``POST /unit/v1/{unit}/commands`` ``{"command": CommandBus.encode(...)}`` runs the command in
the unit's writer (group commit with everything else waiting) and answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {type, code, message,
http_status}}`` for a domain error (the access layer raises the same class again).
``POST /unit/v1/{unit}/messages`` ``{"messages": [rows]}`` consumes relayed messages through
the inbox and answers the ids handled. A unit this process does not own answers 421, a
process that is shutting down 503: the caller sees ``UNIT_UNAVAILABLE`` and retries.
"""

from __future__ import annotations

import json
import logging
import os
import time
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qianbao.platform.errors import InvalidArgument, QianbaoError
from qianbao.platform.lease import Lease
from qianbao.platform.messages import _consume_all
from qianbao.platform.remote import encode_error, jsonable
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


def _database_away(unit: int, exc: BaseException) -> Response:
    log.warning("unit %s: its database is not reachable (%s)", unit, str(exc).strip()[:200])
    error = {
        "code": "UNIT_DATABASE_AWAY",
        "message": f"unit {unit}'s database is not reachable; retry with the same request id",
    }
    return _json({"ok": False, "error": error}, 503)


async def _body(request: Request) -> dict[str, Any]:
    data = json.loads(await request.body())
    if not isinstance(data, dict):
        raise InvalidArgument("the body must be a JSON object")
    return data


def build_unit_app(p: Platform, leases: list[Lease]) -> Starlette:
    """A bare Starlette app (no validation layer: the body is ours, from ``RemoteWriter``)."""
    started_at = time.time()

    async def command(request: Request) -> Response:
        unit = int(request.path_params["unit"])
        refused = _not_owned(p, unit)
        if refused is not None:
            return refused
        try:
            decoded = p.commands.decode((await _body(request)).get("command") or {})
            result = await p.writers[unit].run(p.commands.bind(decoded))
        except QianbaoError as exc:
            return _json({"ok": False, "error": encode_error(exc)})
        except Exception as exc:  # a bug in a handler: logged here, a 500 there
            if _database_lost(exc):  # the batch rolled back or its outcome is unknown:
                return _database_away(unit, exc)  # the caller repeats it by request id
            log.exception("unit %s command failed", unit)
            return _json({"ok": False, "error": encode_error(exc)}, 500)
        return _json({"ok": True, "result": jsonable(result)})

    async def messages(request: Request) -> Response:
        unit = int(request.path_params["unit"])
        refused = _not_owned(p, unit)
        if refused is not None:
            return refused
        rows = list((await _body(request)).get("messages") or [])
        handled = await p.writers[unit].run(partial(_consume_all, messages=rows))
        return _json({"ok": True, "result": handled})

    async def health(request: Request) -> Response:
        return _json(
            {
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
        )

    return Starlette(
        routes=[
            Route("/unit/v1/{unit:int}/commands", command, methods=["POST"]),
            Route("/unit/v1/{unit:int}/messages", messages, methods=["POST"]),
            Route("/unit/v1/health", health, methods=["GET"]),
        ]
    )
