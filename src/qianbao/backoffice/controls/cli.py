"""``qianbao controls …``: read and change flow limits and degradation switches at run time
(docs/operations.md, "Flow control", "Degradation switches"). A change is a row in the global
database that every running process picks up within ``flow_refresh_ms``; each change is in the
audit log (method ``CLI``, the ``--by`` name) like an operator's request through the API."""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer

from qianbao.backoffice import audit
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.terminal import console, run, show

app = typer.Typer(help="Flow limits, degradation switches, breakers.", no_args_is_help=True)
By = Annotated[str, typer.Option("--by", help="who makes the change (audit log)")]
Reason = Annotated[str, typer.Option("--reason", help="why")]


def _audited(p: Platform, by: str, action: str, target: dict[str, Any], change: Any) -> Any:
    who = by or f"cli:{getpass.getuser()}"
    try:
        result = change()
    except QianbaoError as exc:
        audit.record(p, audit.Entry(who, "cli", "CLI", action, target, 400, exc.code))
        raise
    audit.record(p, audit.Entry(who, "cli", "CLI", action, target, 200))
    return result


@app.command("show")
def show_controls(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every limit, every switch (with what it turns off) and this process's breakers."""
    state = run(lambda p: p.controls.describe())
    if as_json:
        print(json.dumps(state))
        return
    show("flow limits (rate/burst per second, per process)", state["limits"])
    for switch in state["switches"]:
        mark = "[red]ON[/red] " if switch["on"] else "off"
        console.print(f"{mark} {switch['name']}: {switch['turns_off']}")


@app.command("limit")
def set_limit(name: str, value: str, by: By = "", reason: Reason = "") -> None:
    """Set a limit: NAME (user, app, ip, payee, merchant, 'route:POST /api/v1/…') to RATE/BURST
    or off."""
    target = {"name": name, "value": value, "reason": reason}
    show(
        "limit set",
        run(
            lambda p: _audited(
                p,
                by,
                "controls limit",
                target,
                lambda: p.controls.set_limit(name, value, by or "cli", reason),
            )
        ),
    )


@app.command("switch")
def set_switch(name: str, state: str, by: By = "", reason: Reason = "") -> None:
    """Turn a degradation switch on or off (names: ``qianbao controls show``)."""
    if state not in ("on", "off"):
        raise typer.BadParameter("state is on or off")
    target = {"name": name, "state": state, "reason": reason}
    on = state == "on"
    show(
        "switch set",
        run(
            lambda p: _audited(
                p,
                by,
                "controls switch",
                target,
                lambda: p.controls.set_switch(name, on, by or "cli", reason),
            )
        ),
    )
