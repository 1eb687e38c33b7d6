"""``qianbao notices``: customer notifications from the terminal (operators)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from qianbao.notices import codes, delivery, prefs, service
from qianbao.platform.clock import TZ
from qianbao.platform.runtime import Platform
from qianbao.terminal import console, run, show

app = typer.Typer(
    help="Customer notifications: send, deliver, the delivery log, preferences.",
    no_args_is_help=True,
)


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=TZ).strftime("%Y-%m-%d %H:%M:%S")


@app.command("send")
def send(
    user_id: str,
    kind: str,
    params: Annotated[
        str, typer.Argument(help='JSON, e.g. {"day": "2026-03-01", "income_fen": 5}')
    ],
    dedupe_key: Annotated[str, typer.Option(help="one notice per user and key")],
) -> None:
    """Queue a notice for a user (delivered by `deliver` or the server's job)."""
    try:
        values = json.loads(params)
    except json.JSONDecodeError:
        console.print("[red]NOTICE_PARAMS_INVALID[/red]: PARAMS is not JSON")
        raise typer.Exit(2) from None
    notice_id = run(lambda p: service.send(p, user_id, kind, values, dedupe_key=dedupe_key))
    console.print(f"notice {notice_id}")


@app.command("deliver")
def deliver() -> None:
    """Run delivery passes until nothing is due."""
    show("delivery", run(delivery.deliver_due))


@app.command("log")
def log(
    user_id: str,
    kind: Annotated[str | None, typer.Option()] = None,
    reveal: Annotated[
        bool, typer.Option(help="show one-time codes (what the phone shows)")
    ] = False,
) -> None:
    """What the gateways accepted for a user (the providers' delivery log; codes masked)."""
    rows = run(lambda p: service.delivery_log(p, user_id, kind, reveal=reveal))
    table = Table("accepted", "channel", "address", "kind", "lang", "text")
    for r in rows:
        table.add_row(
            _time(r["accepted_at_ms"]),
            r["channel"],
            r["address"],
            r["kind"],
            r["language"],
            r["body"],
        )
    console.print(table)


@app.command("list")
def list_notices(user_id: str) -> None:
    """A user's notices and their status, newest first."""
    rows = run(lambda p: service.list_notices(p, user_id))
    table = Table("notice_id", "kind", "status", "attempts", "deliver after", "sent", "error")
    for r in rows:
        table.add_row(
            r["notice_id"],
            r["kind"],
            r["status"],
            str(r["attempts"]),
            _time(r["deliver_after_ms"]),
            _time(r["sent_at_ms"]),
            r["last_error"] or "",
        )
    console.print(table)


@app.command("stats")
def stats() -> None:
    """Notices by status over every unit."""
    show("notices", run(service.stats))


@app.command("prefs")
def set_prefs(
    user_id: str,
    language: Annotated[str | None, typer.Option(help="zh or en")] = None,
    channel: Annotated[str | None, typer.Option(help="SMS, PUSH or EMAIL")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    quiet_start: Annotated[str | None, typer.Option(help="HH:MM")] = None,
    quiet_end: Annotated[str | None, typer.Option(help="HH:MM")] = None,
) -> None:
    """Show a user's preferences, changing the ones given."""
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "language": language,
            "channel": channel,
            "email": email,
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
        }.items()
        if v is not None
    }

    def fn(p: Platform) -> dict[str, Any]:
        return prefs.set_prefs(p, user_id, **changes) if changes else prefs.get_prefs(p, user_id)

    show("preferences", run(fn))


@app.command("issue-code")
def issue_code(user_id: str, purpose: str) -> None:
    """Send a one-time code to the user's phone (for support and testing)."""
    console.print(f"code {run(lambda p: codes.issue_code(p, user_id, purpose))}")
