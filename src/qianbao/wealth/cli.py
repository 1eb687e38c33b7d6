"""``qianbao yuebao``: Yu'e Bao (余额宝) from the terminal — orders, holdings, income, the
day's jobs and the reconciliation with the fund company."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform
from qianbao.terminal import console, parse_day, parse_yuan, run, show
from qianbao.wealth import jobs, reconcile, state
from qianbao.wealth import service as yuebao

app = typer.Typer(help="Yu'e Bao (余额宝): the money-market fund balance.", no_args_is_help=True)


@app.command()
def subscribe(
    user_id: str,
    amount: Annotated[str, typer.Argument(help="yuan, e.g. 100.00")],
    request_id: Annotated[str, typer.Option(help="idempotency key")],
    card_id: Annotated[str | None, typer.Option(help="pay from this bound card")] = None,
) -> None:
    """Subscribe (申购) from the balance, or from a bound card."""
    fen = parse_yuan(amount)
    source = "CARD" if card_id else "BALANCE"
    show(
        "subscription",
        run(
            lambda p: yuebao.subscribe(p, user_id, fen, request_id, source=source, card_id=card_id)
        ),
    )


@app.command()
def redeem(
    user_id: str,
    amount: Annotated[str, typer.Argument(help="yuan, e.g. 100.00")],
    request_id: Annotated[str, typer.Option(help="idempotency key")],
    mode: Annotated[str, typer.Option(help="FAST (at once) or NORMAL (T+1)")] = "FAST",
) -> None:
    """Redeem (赎回) to the balance."""
    fen = parse_yuan(amount)
    show("redemption", run(lambda p: yuebao.redeem(p, user_id, fen, request_id, mode=mode)))


@app.command()
def holdings(user_id: str) -> None:
    """A holder's shares, pending and redeeming amounts, income and the 7-day yield."""
    row = run(lambda p: yuebao.holdings(p, user_id))
    row["seven_day_yield"] = row["seven_day_yield"]["percent"] or "-"
    show("Yu'e Bao", row)


@app.command()
def income(user_id: str, limit: int = 30) -> None:
    """A holder's daily income, newest first."""
    table = Table("day", "income (CNY)", "shares after (CNY)")
    for line in run(lambda p: yuebao.income_history(p, user_id, limit)):
        table.add_row(
            line["day"], fen_to_yuan(line["income_fen"]), fen_to_yuan(line["shares_after_fen"])
        )
    console.print(table)


@app.command("yield")
def seven_day(
    through: Annotated[str, typer.Option(help="YYYY-MM-DD (default yesterday)")] = "",
) -> None:
    """The 7-day annualised yield (七日年化) and the 万份收益 behind it."""
    day = parse_day(through)
    row = run(lambda p: yuebao.seven_day_yield(p, day))
    table = Table("day", "万份收益 (CNY per 10,000)")
    for r in row["per_10k"]:
        table.add_row(r["day"], r["per_10k"])
    console.print(table)
    console.print(f"七日年化 through {row['through']}: {row['percent'] or '-'}%")


@app.command("publish-rate")
def publish_rate(day: str, per_10k: Annotated[str, typer.Argument(help="e.g. 0.4932")]) -> None:
    """The fund company publishes a day's income per 10,000 shares (simulator)."""
    when = parse_day(day)
    fresh = run(lambda p: state.of(p).fund.publish_rate(when, per_10k))
    console.print("published" if fresh else "already published (a day's figure never changes)")


@app.command("run-day")
def run_day(
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD (default yesterday)")] = "",
) -> None:
    """Run a day's jobs: the fund's T+1 confirmations, the application file, the income run and
    the reconciliation (each idempotent: a re-run changes nothing)."""
    when = parse_day(day)

    def both(p: Platform) -> dict[str, Any]:
        return {"start": jobs.start_of_day(p, when), "end": jobs.end_of_day(p, when)}

    out = run(both)
    for item in out["end"]["income"]:
        show(f"income, unit {item['unit']}", item)
    console.print(f"reconciliation: {out['end']['reconciliation']}")


@app.command("reconcile")
def reconcile_day(
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD (default yesterday)")] = "",
) -> None:
    """Reconcile a day with the fund company's daily file (per unit); exit 1 on differences."""
    when: date = parse_day(day)
    reports = run(lambda p: reconcile.reconcile(p, when))
    for r in reports:
        show(
            f"unit {r['unit']} {r['day']}: {r['status']}",
            {k: v for k, v in r.items() if k != "differences"},
        )
        for d in r["differences"]:
            console.print(
                f"[red]{d['problem']}[/red] order {d['order_id']} (fund: {d['fund_status']})"
            )
    if any(r["status"] != reconcile.BALANCED for r in reports):
        raise typer.Exit(1)
