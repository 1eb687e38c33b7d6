"""``qianbao serve-unit N`` and ``qianbao cluster up | status | down``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qianbao.cluster import run as processes
from qianbao.cluster import up as local
from qianbao.cluster.local import Layout
from qianbao.platform.settings import load_settings
from qianbao.terminal import console

app = typer.Typer(help="The local cluster: PostgreSQL, nats-server, unit and access processes.")
Root = Annotated[Path, typer.Option(help="where the cluster keeps its state")]


def serve_unit(
    unit: Annotated[int, typer.Argument(help="the unit this process owns")],
    lease_wait: Annotated[float, typer.Option(help="seconds to wait for the lease")] = 0.0,
) -> None:
    """Host one unit: its writer, its relay side and its command endpoint (needs
    unit_endpoints; refuses to start while another live process owns the unit)."""
    processes._logging()
    raise typer.Exit(processes.serve_unit(load_settings(), unit, lease_wait_s=lease_wait))


def serve_access(host: str | None, port: int | None) -> None:
    """``qianbao serve`` in the distributed mode: a stateless access-layer process."""
    processes._logging()
    settings = load_settings()
    settings = settings.with_(host=host or settings.host)
    raise typer.Exit(processes.serve_access(settings, [port or settings.port]))


@app.command("up")
def cluster_up(
    root: Root = Path("var/cluster"),
    port: Annotated[int, typer.Option(help="the public address's port")] = 8000,
    pg_port: Annotated[int, typer.Option()] = 55440,
    nats_port: Annotated[int, typer.Option()] = 4222,
    unit_port_base: Annotated[int, typer.Option()] = 8100,
    access_port_base: Annotated[int, typer.Option()] = 8010,
    demo: Annotated[bool, typer.Option(help="load the demo data")] = True,
    replicas: Annotated[bool, typer.Option(help="a synchronous standby per unit")] = True,
    replicated_units: Annotated[
        str, typer.Option(help="only these units get a standby (comma-separated; default all)")
    ] = "",
    replica_port_base: Annotated[int, typer.Option(help="0: pg-port + 1")] = 0,
) -> None:
    """Start PostgreSQL (a database per unit plus the global one), nats-server, two unit
    processes and two access-layer processes on 127.0.0.1:PORT; print what runs where."""
    layout = Layout(
        root=root,
        port=port,
        pg_port=pg_port,
        nats_port=nats_port,
        unit_port_base=unit_port_base,
        access_port_base=access_port_base,
        replica_port_base=replica_port_base,
    )
    if replicas:
        chosen = [int(u) for u in replicated_units.split(",") if u.strip()]
        layout.replicated_units = chosen or list(range(layout.units))
    try:
        local.up(layout, demo=demo, say=console.print)
    except (local.PortTaken, local.replication.ReplicationError) as taken:
        console.print(f"[red]cluster up: {taken}[/red]")
        raise typer.Exit(1) from None
    _table(local.status(root))
    console.print(f"serving on http://{layout.host}:{port} (settings: {root / 'qianbao.toml'})")


@app.command("status")
def cluster_status(
    root: Root = Path("var/cluster"),
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Every component with its pid, port and health."""
    rows = local.status(root)
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        _table(rows)
    if any(row["health"] != "ok" for row in rows):
        raise typer.Exit(1)


@app.command("down")
def cluster_down(root: Root = Path("var/cluster")) -> None:
    """Stop every component by its pid."""
    local.down(root, say=console.print)


def _table(rows: list[dict[str, object]]) -> None:
    table = Table(title="Qianbao local cluster")
    for col in ("name", "kind", "pid", "port", "private_port", "health"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            *(
                str(row.get(col, ""))
                for col in ("name", "kind", "pid", "port", "private_port", "health")
            )
        )
    console.print(table)


Unit = Annotated[int, typer.Option("--unit", help="the unit")]


@app.command("failover")
def cluster_failover(unit: Unit, root: Root = Path("var/cluster")) -> None:
    """Fence unit N's primary, promote its standby, switch the unit's DSN and restart its
    process there (docs/operations.md, Failover)."""
    from qianbao.cluster import failover

    try:
        failover.failover(root, unit, say=console.print)
    except (failover.FailoverError, RuntimeError) as exc:
        console.print(f"[red]cluster failover: {exc}[/red]")
        raise typer.Exit(1) from None


@app.command("rebuild-standby")
def cluster_rebuild_standby(unit: Unit, root: Root = Path("var/cluster")) -> None:
    """A new synchronous standby for unit N from its current primary (N+1 again)."""
    from qianbao.cluster import failover

    try:
        failover.rebuild_standby(root, unit, say=console.print)
    except (failover.FailoverError, RuntimeError) as exc:
        console.print(f"[red]cluster rebuild-standby: {exc}[/red]")
        raise typer.Exit(1) from None


@app.command("upgrade")
def cluster_upgrade(root: Root = Path("var/cluster")) -> None:
    """Restart every process one at a time on the installed code (access layer first, then
    each unit, drained), with no request failing."""
    from qianbao.cluster import upgrade

    try:
        upgrade.upgrade(root, say=console.print)
    except RuntimeError as exc:
        console.print(f"[red]cluster upgrade: {exc}[/red]")
        raise typer.Exit(1) from None


@app.command("watch")
def cluster_watch(
    root: Root = Path("var/cluster"),
    down_after: Annotated[float, typer.Option(help="seconds a primary is lost first")] = 3.0,
) -> None:
    """Fail over a replicated unit automatically when its primary is lost and its standby is
    healthy (the same procedure as ``cluster failover``); runs until stopped."""
    from qianbao.cluster import failover

    failover.watch(root, down_after_s=down_after, say=console.print)
