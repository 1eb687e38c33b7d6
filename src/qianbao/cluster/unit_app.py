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

import logging
import os
import time
from functools import partial
from typing import Any

from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

from qianbao.platform.errors import QianbaoError
from qianbao.platform.lease import Lease
from qianbao.platform.messages import _consume_all
from qianbao.platform.remote import encode_error, jsonable
from qianbao.platform.runtime import Platform

log = logging.getLogger("qianbao.unit")


def _not_owned(p: Platform, unit: int) -> JSONResponse | None:
    if unit in p.owned_units and p.started:
        return None
    return JSONResponse(
        {"ok": False, "error": {"code": "UNIT_NOT_HERE", "message": f"unit {unit} is not here"}},
        status_code=421 if p.started else 503,
    )


def build_unit_app(p: Platform, leases: list[Lease]) -> FastAPI:
    app = FastAPI(title=f"Qianbao unit process {list(p.owned_units)}", docs_url=None)
    started_at = time.time()

    @app.post("/unit/v1/{unit}/commands")
    async def command(unit: int, body: dict[str, Any] = Body(...)) -> Any:
        refused = _not_owned(p, unit)
        if refused is not None:
            return refused
        try:
            decoded = p.commands.decode(body.get("command") or {})
            result = await p.writers[unit].run(p.commands.bind(decoded))
        except QianbaoError as exc:
            return {"ok": False, "error": encode_error(exc)}
        except Exception as exc:  # a bug in a handler: logged here, a 500 there
            log.exception("unit %s command failed", unit)
            return JSONResponse({"ok": False, "error": encode_error(exc)}, status_code=500)
        return {"ok": True, "result": jsonable(result)}

    @app.post("/unit/v1/{unit}/messages")
    async def messages(unit: int, body: dict[str, Any] = Body(...)) -> Any:
        refused = _not_owned(p, unit)
        if refused is not None:
            return refused
        rows = list(body.get("messages") or [])
        handled = await p.writers[unit].run(partial(_consume_all, messages=rows))
        return {"ok": True, "result": handled}

    @app.get("/unit/v1/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok" if p.started and all(lease.alive() for lease in leases) else "down",
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

    return app
