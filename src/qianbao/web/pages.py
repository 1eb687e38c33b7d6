"""The console home page: what runs here and how to start using it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from qianbao.api.deps import PlatformDep
from qianbao.ledger.service import check_platform

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


def demo_accounts(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "demo.json"
    return json.loads(path.read_text()) if path.exists() else {}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, p: PlatformDep) -> HTMLResponse:
    check = check_platform(p)
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "demo": demo_accounts(p.settings.data_dir),
            "units": len(p.units),
            "ledger_ok": check.ok,
            "in_transit_fen": check.in_transit_fen,
        },
    )
