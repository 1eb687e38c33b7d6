"""``qianbao moneyout``: merchants' settlement accounts and payouts, the daily payout, transfers
to a bank card, and the bank follow-up of orders whose answer was lost."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from qianbao.payments.moneyout import cards, orders, payouts
from qianbao.platform.money import fen_to_yuan
from qianbao.terminal import console, parse_day, parse_yuan, run, show

app = typer.Typer(
    help="Money out (出金): merchant payouts and transfers to a bank card.", no_args_is_help=True
)


@app.command("set-account")
def set_account(
    merchant_id: str,
    account_no: str,
    holder_name: str,
    auto: Annotated[bool, typer.Option("--auto/--no-auto", help="daily automatic payout")] = False,
) -> None:
    """Put a merchant's bank account for payouts on file (the bank confirms the holder)."""
    row = run(
        lambda p: payouts.set_settlement_account(
            p, merchant_id, account_no, holder_name, auto_payout=auto
        )
    )
    show("settlement account", payouts.public_account(row))


@app.command("payout")
def payout(merchant_id: str, amount: str, request_id: str) -> None:
    """Pay AMOUNT (yuan) of a merchant's settlement balance to its account on file."""
    amount_fen = parse_yuan(amount)
    row = run(lambda p: payouts.request_payout(p, merchant_id, amount_fen, request_id))
    show("payout", payouts.public_payout(row))


@app.command("payouts")
def list_payouts(merchant_id: str, limit: int = 20) -> None:
    """A merchant's payouts, newest first."""
    rows = run(
        lambda p: [payouts.public_payout(r) for r in payouts.list_payouts(p, merchant_id, limit)]
    )
    _table("payouts", rows)


@app.command("auto-payouts")
def auto_payouts(
    day: Annotated[str, typer.Option(help="YYYY-MM-DD; default yesterday")] = "",
) -> None:
    """Run the automatic daily payout for a day (idempotent: a re-run pays nothing twice)."""
    when = parse_day(day)
    result = run(lambda p: payouts.run_auto_payouts(p, when))
    _table(f"automatic payouts of {result['day']}", result["paid"])
    console.print(f"skipped {len(result['skipped'])}, failed {len(result['failed'])}")
    if result["failed"]:
        raise typer.Exit(1)


@app.command("card-transfer")
def card_transfer(
    user_id: str,
    card_no: str,
    holder_name: str,
    amount: str,
    request_id: str,
    pay_password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    memo: str = "",
) -> None:
    """Transfer AMOUNT (yuan) from a user's balance to any bank card (转账到卡)."""
    amount_fen = parse_yuan(amount)
    row = run(
        lambda p: cards.transfer_to_card(
            p, user_id, card_no, holder_name, amount_fen, request_id, pay_password, memo
        )
    )
    show("card transfer", cards.public_card_transfer(row))


@app.command("follow-up")
def follow_up() -> None:
    """Ask the bank about every PENDING payout and card transfer, and settle its answers."""
    settled = run(lambda p: orders.resolve_pending(p))
    console.print(f"{settled} order(s) settled")


def _table(title: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for column in ("order_id", "account", "amount", "fee", "status"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["order_id"],
            r["account"],
            fen_to_yuan(r["amount_fen"]),
            fen_to_yuan(r["fee_fen"]),
            r["status"],
        )
    console.print(table)
