"""``qianbao openapi …``: the sandbox app's credentials, trade jobs and the notification log.

Mounted as ``qianbao openapi`` by ``qianbao/cli.py``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from qianbao.members import service as members
from qianbao.openapi import apps, notify
from qianbao.payments import secured
from qianbao.platform.runtime import Platform
from qianbao.terminal import console
from qianbao.terminal import run as _run

app = typer.Typer(
    help="Open platform (开放平台): apps, gateway, notifications.", no_args_is_help=True
)
SANDBOX_MERCHANT = "沙箱商户 Sandbox merchant"


def sandbox_merchant(p: Platform) -> str:
    """The demo merchant if demo data is loaded, else a dedicated sandbox merchant."""
    demo = p.settings.data_dir / "demo.json"
    if demo.exists():
        merchant = json.loads(demo.read_text()).get("merchant", {})
        if merchant.get("merchant_id"):
            return str(merchant["merchant_id"])
    for row in members.list_merchants(p):
        if row["name"] == SANDBOX_MERCHANT:
            return str(row["id"])
    return str(members.create_merchant(p, SANDBOX_MERCHANT)[0]["id"])


def ensure_sandbox(p: Platform) -> dict[str, str]:
    """Demo data hook: the sandbox app (created once, its credentials kept in the data dir)."""
    return apps.ensure_sandbox_app(p, sandbox_merchant(p))


@app.command()
def sandbox(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the sandbox app's app_id, the app's private key and the platform's public key."""
    creds = _run(ensure_sandbox)
    if as_json:
        print(json.dumps(creds, indent=2))
        return
    console.print(f"app_id:      [bold]{creds['app_id']}[/bold]")
    console.print(f"merchant_id: {creds['merchant_id']}")
    console.print(
        "gateway:     POST http://127.0.0.1:8000/gateway.do (see docs/openapi-gateway.md)"
    )
    print("\n# the app's private key (sign requests with it)\n" + creds["app_private_key"])
    print(
        "# the platform's public key (verify responses and notifications)\n"
        + creds["platform_public_key"]
    )


@app.command()
def jobs() -> None:
    """Run due trade jobs (timeouts, auto-confirm, refund windows) and send due notifications."""

    def run(p: Platform) -> Any:
        return secured.run_due_jobs(p), notify.deliver_due(p)

    done, sent = _run(run)
    console.print({**done, **sent})


@app.command("notify-log")
def notify_log(
    status: Annotated[str | None, typer.Option()] = None,
    trade_no: Annotated[str | None, typer.Option()] = None,
    limit: int = 30,
) -> None:
    """The notification log an operator reads: each task and its attempts."""

    def run(p: Platform) -> Any:
        rows = notify.list_tasks(p, status=status, trade_id=trade_no, limit=limit)
        return [(t, notify.attempts(p, t["id"])) for t in rows]

    table = Table("notify_id", "trade_no", "event", "status", "attempts", "next", "last result")
    for t, tries in _run(run):
        table.add_row(
            t["id"],
            t["trade_id"],
            t["event"],
            t["status"],
            str(len(tries)),
            notify.ms_to_text(t["next_at_ms"]),
            t["last_result"],
        )
    console.print(table)


@app.command()
def resend(notify_id: str) -> None:
    """Send a notification again now."""
    row = _run(lambda p: notify.resend(p, notify_id))
    console.print(f"notification {row['id']} queued again")
