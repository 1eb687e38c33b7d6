"""``qianbao broker …``: a local NATS JetStream server for the units, and what it holds.

Mounted as ``qianbao broker`` by ``qianbao/cli.py``. See docs/broker.md.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qianbao.platform.broker import NatsServer, broker_status
from qianbao.platform.settings import load_settings
from qianbao.terminal import console

app = typer.Typer(help="NATS JetStream between unit processes.", no_args_is_help=True)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="the client port on 127.0.0.1")] = 4222,
    data_dir: Annotated[Path | None, typer.Option(help="default: <data_dir>/nats")] = None,
) -> None:
    """Run nats-server (fsync before every ack) in the foreground until Ctrl-C."""
    directory = data_dir or load_settings().data_dir / "nats"
    server = NatsServer(port, directory).start()
    pid = server.process.pid if server.process else "?"
    console.print(f"nats-server pid {pid} at {server.url}")
    console.print(f"config {server.config}, store {server.store_dir}, log {directory / 'nats.log'}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The stream's messages and each unit consumer's backlog (settings: nats_url)."""
    settings = load_settings()
    try:
        state = broker_status(settings.nats_url, settings.nats_stream)
    except Exception as exc:
        if as_json:
            print(json.dumps({"url": settings.nats_url, "reachable": False, "error": repr(exc)}))
        else:
            console.print(f"[red]broker {settings.nats_url} unreachable: {exc!r}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps({**state, "reachable": True}))
        return
    console.print(f"{state['url']} stream {state['stream']}: {state.get('messages', 0)} messages")
    table = Table("consumer", "pending", "unacked", "redelivered")
    for c in state["consumers"]:
        table.add_row(str(c["name"]), str(c["pending"]), str(c["unacked"]), str(c["redelivered"]))
    console.print(table)
