"""The one template environment of the console pages, with its filters, and ``page`` to render
a template: every page module renders through it (no module builds its own loader)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from qianbao.platform.clock import TZ
from qianbao.platform.money import fen_to_yuan

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def when(at_ms: int | None) -> str:
    """A moment for a page, on the platform's business clock to the second ("" for none)."""
    if at_ms is None:
        return ""
    return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


def day(at_ms: int) -> str:
    """The business day of a moment, as ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(TZ).date().isoformat()


templates.env.filters["yuan"] = fen_to_yuan
templates.env.filters["when"] = when
templates.env.filters["day"] = day


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Template ``name`` rendered with ``context``, answered with ``status``."""
    return templates.TemplateResponse(request, name, context, status_code=status)
