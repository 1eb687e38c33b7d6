"""``qianbao coupon``: coupon campaigns and coupons from the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from qianbao.marketing import service as marketing
from qianbao.platform.clock import TZ
from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform
from qianbao.terminal import console, parse_yuan, run, show

app = typer.Typer(help="Coupons (券): campaigns, issuing, a user's coupons.", no_args_is_help=True)


def _ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        console.print(f"[red]CAMPAIGN_INVALID[/red]: {text!r} is not an ISO date/time")
        raise typer.Exit(2) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return int(moment.timestamp() * 1000)


@app.command("create-campaign")
def create_campaign(
    name: str,
    face: Annotated[str, typer.Option(help="face value in yuan")],
    min_spend: Annotated[str, typer.Option(help="minimum spend in yuan (above the face)")],
    budget: Annotated[str, typer.Option(help="total face value that may be issued, yuan")],
    valid_from: Annotated[str, typer.Option(help="YYYY-MM-DD[THH:MM]")],
    valid_until: Annotated[str, typer.Option(help="YYYY-MM-DD[THH:MM], exclusive")],
    per_user: Annotated[int, typer.Option(help="coupons per user")] = 1,
    funder: Annotated[str, typer.Option(help="PLATFORM or MERCHANT")] = "PLATFORM",
    merchant_id: Annotated[str | None, typer.Option(help="the merchant (MERCHANT funder)")] = None,
) -> None:
    """Create a coupon campaign (platform- or merchant-funded)."""
    face_fen, min_fen, budget_fen = parse_yuan(face), parse_yuan(min_spend), parse_yuan(budget)
    start, end = _ms(valid_from), _ms(valid_until)
    row = run(
        lambda p: marketing.create_campaign(
            p,
            name=name,
            funder=funder,
            merchant_id=merchant_id,
            face_fen=face_fen,
            min_spend_fen=min_fen,
            valid_from_ms=start,
            valid_until_ms=end,
            per_user_limit=per_user,
            budget_fen=budget_fen,
        )
    )
    show("campaign", row)


@app.command("campaigns")
def campaigns() -> None:
    """Campaigns with what they have issued of their budget."""
    rows = run(marketing.list_campaigns)
    table = Table(
        "campaign_id", "name", "funder", "face", "min spend", "issued", "budget", "status"
    )
    for c in rows:
        table.add_row(
            c["id"],
            c["name"],
            c["funder"],
            fen_to_yuan(c["face_fen"]),
            fen_to_yuan(c["min_spend_fen"]),
            f"{c['issued_count']} / {fen_to_yuan(c['issued_fen'])}",
            fen_to_yuan(c["budget_fen"]),
            c["status"],
        )
    console.print(table)


@app.command("issue")
def issue(campaign_id: str, user_id: str, request_id: str) -> None:
    """Give a user one coupon (idempotent by REQUEST_ID)."""
    show(
        "coupon",
        run(
            lambda p: marketing.public_coupon(marketing.issue(p, campaign_id, user_id, request_id))
        ),
    )


@app.command("list")
def list_coupons(user_id: str) -> None:
    """A user's coupons."""

    def fn(p: Platform) -> Any:
        return [marketing.public_coupon(c) for c in marketing.list_coupons(p, user_id)]

    table = Table("coupon_id", "funder", "face", "min spend", "valid until", "status", "trade")
    for c in run(fn):
        table.add_row(
            c["coupon_id"],
            c["funder"],
            fen_to_yuan(c["face_fen"]),
            fen_to_yuan(c["min_spend_fen"]),
            c["valid_until"],
            c["status"],
            c["trade_id"] or "",
        )
    console.print(table)
