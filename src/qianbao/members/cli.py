"""``qianbao keys``: rotate and revoke API keys, end a user's sessions (from a terminal, where
the operator's new key is printed once)."""

from __future__ import annotations

from typing import Annotated

import typer

from qianbao.members import credentials, sessions
from qianbao.terminal import console
from qianbao.terminal import run as _run
from qianbao.terminal import show as _show

app = typer.Typer(help="API keys and sessions: rotate, revoke.", no_args_is_help=True)
Overlap = Annotated[
    int | None, typer.Option(help="minutes the old keys keep working (default: the setting)")
]


def _print_rotation(result: dict[str, object]) -> None:
    console.print(f"[green]new API key (shown once)[/green]: {result['api_key']}")
    if result["retiring"] and result["retiring_until_ms"]:
        console.print(f"still valid until {result['retiring_until_ms']} ms: {result['retiring']}")
    elif result["retiring"]:
        console.print(f"revoked now: {result['retiring']}")


@app.command("rotate-operator")
def rotate_operator(name: str, overlap_minutes: Overlap = None) -> None:
    """A new API key for the operator NAME (e.g. demo-admin); its current keys retire."""
    _print_rotation(
        _run(
            lambda p: credentials.rotate(
                p, "operator", credentials.operator_id(p, name), overlap_minutes
            )
        )
    )


@app.command("rotate-merchant")
def rotate_merchant(merchant_id: str, overlap_minutes: Overlap = None) -> None:
    """A new API key for a merchant; its current keys retire after the overlap window."""
    _print_rotation(_run(lambda p: credentials.rotate(p, "merchant", merchant_id, overlap_minutes)))


@app.command("list")
def list_keys(owner_type: str, owner_id: str) -> None:
    """The keys of a merchant or operator (OWNER_TYPE merchant|operator)."""
    for row in _run(lambda p: credentials.list_keys(p, owner_type, owner_id)):
        _show(row["key_id"], row)


@app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke any key now (every process refuses it within a second)."""
    _show("revoked", _run(lambda p: credentials.revoke_any(p, key_id)))


@app.command("end-sessions")
def end_sessions(user_id: str) -> None:
    """End every session of a user (every process refuses its tokens within a second)."""
    count = _run(lambda p: sessions.revoke(p, user_id, None, "operator (cli)"))
    console.print(f"ended {count} session(s)")
