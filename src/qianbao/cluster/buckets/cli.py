"""``qianbao units …``: the route table, moving a bucket, adding a unit, rebalancing (ADR 0935).

In the embedded mode these commands open the platform in their own process, which then owns
every unit's writer: run them while ``qianbao serve`` is stopped, or use the same functions from
inside the serving process (docs/operations.md, "Moving buckets").
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated

import typer
from rich.table import Table

from qianbao.cluster.buckets import grow, move, store
from qianbao.platform import route_store
from qianbao.platform.routing import format_route_table
from qianbao.platform.settings import load_settings
from qianbao.terminal import console, run

app = typer.Typer(help="Units: route table, bucket moves, adding a unit.", no_args_is_help=True)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The route table in force (version, buckets per unit, paused buckets) and recent moves."""

    def show(p: move.Platform) -> None:
        version = route_store.current(p)
        moves = [dict(zip(r.keys(), r, strict=True)) for r in store.list_moves(p.global_db, 20)]
        body = {
            "version": version.version,
            "unit_count": version.unit_count,
            "routes": format_route_table(version.routes),
            "buckets_per_unit": dict(sorted(Counter(version.routes).items())),
            "paused": sorted(version.paused),
            "moves": moves,
        }
        if as_json:
            console.print_json(json.dumps(body))
            return
        console.print(f"route version {body['version']}, {body['unit_count']} units")
        console.print(f"routes {body['routes']}; paused {body['paused'] or 'none'}")
        table = Table("move", "bucket", "from", "to", "status")
        for m in moves:
            table.add_row(
                m["id"], str(m["bucket"]), str(m["from_unit"]), str(m["to_unit"]), m["status"]
            )
        console.print(table)

    run(show)


@app.command("move-bucket")
def move_bucket(
    bucket: Annotated[int, typer.Argument(help="route bucket 0-99")],
    to: Annotated[int, typer.Option("--to", help="the target unit")],
) -> None:
    """Move one bucket's users, merchants and records to unit TO (resumes an unfinished move)."""
    row = run(lambda p: move.run(p, bucket, to, grace_s=move.OTHER_PROCESS_GRACE_S))
    console.print(f"move {row['id']}: bucket {bucket} -> unit {to}: {row['status']}")
    console.print(row["report"])


@app.command()
def abort(bucket: Annotated[int, typer.Argument(help="route bucket 0-99")]) -> None:
    """Give up the bucket's move if nothing was copied yet (its writes resume)."""
    move_id = run(lambda p: move.abort(p, bucket))
    console.print(f"move {move_id} aborted; bucket {bucket} is writable again")


@app.command()
def add() -> None:
    """Add a unit (embedded: unitN.db is created and opened at the next start)."""
    unit = grow.add_unit(load_settings())
    console.print(f"unit {unit} added; restart, then: qianbao units rebalance --to {unit}")


@app.command()
def rebalance(
    to: Annotated[int, typer.Option("--to", help="the unit to fill")],
    limit: Annotated[int, typer.Option(help="move at most this many buckets")] = 100,
) -> None:
    """Move buckets to unit TO until it holds its share (100 // units)."""
    rows = run(lambda p: grow.rebalance(p, to, limit=limit, grace_s=move.OTHER_PROCESS_GRACE_S))
    for row in rows:
        console.print(f"bucket {row['bucket']} -> unit {row['to_unit']}: {row['status']}")
    console.print(f"{len(rows)} buckets moved")
