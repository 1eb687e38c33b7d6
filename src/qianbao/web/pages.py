"""The console home page: what runs here and how to start using it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from qianbao.api.deps import PlatformDep
from qianbao.ledger.service import check_platform
from qianbao.web.templating import templates

router = APIRouter(include_in_schema=False)


def demo_accounts(data_dir: Path, *, sandbox: bool = True) -> dict[str, Any]:
    """What the public home page may say about the demo data, in the sandbox only: the demo
    accounts (names, phones, the merchant and the operator by name), never a password or key
    (those are printed on the terminal by ``qianbao demo``); in production, nothing."""
    path = data_dir / "demo.json"
    if not sandbox or not path.exists():
        return {}
    demo = json.loads(path.read_text())
    return {
        "users": [
            {"name": u["name"], "unit": u["unit"], "phone": u.get("phone", "")}
            for u in demo.get("users", [])
        ],
        "merchant": {"name": demo.get("merchant", {}).get("name", "")},
        "operator": {"name": demo.get("operator", {}).get("name", "")},
        "sandbox_app_id": demo.get("sandbox_app_id", ""),
    }


LEDGER_CHECK_EVERY_S = 60


def recent_check(p: Any, fresh: bool = False) -> Any:
    """The ledger check scans every posting: the home page shows one at most a minute old
    (kept in ``p.ledger_check``); ``fresh`` runs it now."""
    now = time.monotonic()
    hit = p.ledger_check
    if fresh or hit is None or now - hit[0] > LEDGER_CHECK_EVERY_S:
        hit = p.ledger_check = (now, check_platform(p))
    return hit[1]


def books_state(p: Any) -> dict[str, Any]:
    """The last closed day of each unit and the last reconciliation of each channel."""
    closed = []
    for db in p.units:
        with db.read() as tx:
            closed.append(tx.scalar("SELECT MAX(day) FROM ledger_day_closings"))
    with p.global_db.read() as tx:
        recons = tx.all(
            "SELECT r.channel, r.day, r.status, r.differences FROM channel_reconciliations r"
            " WHERE r.day = (SELECT MAX(day) FROM channel_reconciliations x"
            " WHERE x.channel = r.channel) ORDER BY r.channel"
        )
    return {"closed_days": closed, "reconciliations": [dict(r) for r in recons]}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, p: PlatformDep) -> HTMLResponse:
    check = recent_check(p)
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "demo": demo_accounts(p.settings.data_dir, sandbox=not p.settings.production),
            "sandbox": not p.settings.production,
            "units": len(p.units),
            "ledger_ok": check.ok,
            "in_transit_fen": check.in_transit_fen,
            "books": books_state(p),
        },
    )
