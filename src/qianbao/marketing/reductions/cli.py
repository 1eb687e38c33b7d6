"""``qianbao reduction``: full-reduction campaigns (满减) from the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from qianbao.marketing.reductions import service as reductions
from qianbao.platform.clock import TZ
from qianbao.platform.money import fen_to_yuan
from qianbao.terminal import console, parse_yuan, run, show

app = typer.Typer(help="Full-reduction offers (满减): spend X, get Y off.", no_args_is_help=True)


def _ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        console.print(f"[red]REDUCTION_INVALID[/red]: {text!r} is not an ISO date/time")
        raise typer.Exit(2) from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=TZ)).timestamp() * 1000)


def _tiers(text: str) -> list[tuple[int, int]]:
    """ "100:10,200:30" (yuan) → [(10000, 1000), (20000, 3000)]."""
    tiers = []
    for part in text.split(","):
        threshold, _, off = part.partition(":")
        tiers.append((parse_yuan(threshold.strip()), parse_yuan(off.strip())))
    return tiers


@app.command("create")
def create(
    name: str,
    tiers: Annotated[str, typer.Option(help='spend:off in yuan, e.g. "100:10,200:30"')],
    budget: Annotated[str, typer.Option(help="total reduction that may be given, yuan")],
    valid_from: Annotated[str, typer.Option(help="YYYY-MM-DD[THH:MM]")],
    valid_until: Annotated[str, typer.Option(help="YYYY-MM-DD[THH:MM], exclusive")],
    funder: Annotated[str, typer.Option(help="PLATFORM or MERCHANT")] = "PLATFORM",
    merchant_id: Annotated[str | None, typer.Option(help="one merchant only")] = None,
) -> None:
    """Create a tiered full-reduction campaign."""
    levels, budget_fen = _tiers(tiers), parse_yuan(budget)
    start, end = _ms(valid_from), _ms(valid_until)
    row = run(
        lambda p: reductions.create_campaign(
            p,
            name=name,
            funder=funder,
            tiers=levels,
            budget_fen=budget_fen,
            valid_from_ms=start,
            valid_until_ms=end,
            merchant_id=merchant_id,
        )
    )
    show("full-reduction campaign", reductions.public_campaign(row))


@app.command("list")
def list_campaigns() -> None:
    table = Table(title="full-reduction campaigns")
    for column in ("campaign_id", "name", "funder", "tiers", "budget", "status"):
        table.add_column(column)
    for row in run(lambda p: [reductions.public_campaign(r) for r in reductions.list_campaigns(p)]):
        tiers = ", ".join(
            f"{fen_to_yuan(t['threshold_fen'])}-{fen_to_yuan(t['off_fen'])}" for t in row["tiers"]
        )
        table.add_row(
            row["campaign_id"],
            row["name"],
            row["funder"],
            tiers,
            fen_to_yuan(row["budget_fen"]),
            row["status"],
        )
    console.print(table)


@app.command("budget")
def budget(campaign_id: str) -> None:
    """Spent and left, in total and per unit."""
    show(
        "budget",
        {
            k: v
            for k, v in run(lambda p: reductions.budget_of(p, campaign_id)).items()
            if k != "by_unit"
        },
    )


@app.command("stop")
def stop(campaign_id: str) -> None:
    show(
        "stopped",
        reductions.public_campaign(run(lambda p: reductions.stop_campaign(p, campaign_id))),
    )
