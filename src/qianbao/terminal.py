"""What every CLI shares: the console, running a use case with domain errors as red messages,
yuan and day parsing, and a two-column table of a record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from qianbao.platform.errors import QianbaoError
from qianbao.platform.money import fen_to_yuan, yuan_to_fen
from qianbao.platform.runtime import Platform

T = TypeVar("T")
console = Console()


def run(fn: Callable[[Platform], T], platform: Platform | None = None) -> T:
    """Run a use case on the configured platform (or ``platform``); a domain error is a red
    ``CODE: message`` and exit code 1, not a traceback."""
    from qianbao.bootstrap import open_platform
    from qianbao.platform.settings import load_settings

    p = platform or open_platform(load_settings())
    try:
        return fn(p)
    except QianbaoError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    finally:
        if platform is None:
            p.close()


def parse_yuan(text: str) -> int:
    """ "12.34" → 1234 fen; anything else is a red message and exit code 2."""
    try:
        return yuan_to_fen(text.strip())
    except QianbaoError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(2) from None


def parse_day(text: str) -> date:
    """ "2026-11-24" → that date; "" → yesterday on the business clock; else exit code 2."""
    from qianbao.platform.clock import clock

    try:
        return date.fromisoformat(text) if text else clock.today() - timedelta(days=1)
    except ValueError:
        console.print(f"[red]INVALID_ARGUMENT[/red]: {text!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None


def show(title: str, row: Any) -> None:
    table = Table(title=title, show_header=False)
    for key, value in dict(row).items():
        money = key.endswith("_fen") and isinstance(value, int)
        table.add_row(key, f"{value} ({fen_to_yuan(value)} CNY)" if money else str(value))
    console.print(table)
