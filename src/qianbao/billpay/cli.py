"""``qianbao billpay``: billers, the biller simulator's accounts and bills, paying a bill, the
automatic payments and the biller's daily reconciliation."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from qianbao.billpay import autopay, reconcile
from qianbao.billpay import service as billpay
from qianbao.platform.clock import clock
from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform
from qianbao.terminal import console, parse_day, parse_yuan, run, show

app = typer.Typer(
    help="Bill payment (缴费): water, power, gas, phone, fines.", no_args_is_help=True
)


@app.command("register")
def register(code: str, name: str, category: str) -> None:
    """Register a biller (WATER, POWER, GAS, PHONE, TRAFFIC_FINE); it becomes a merchant."""
    row = run(lambda p: billpay.register_biller(p, code, name, category))
    show("biller", row)


@app.command("billers")
def billers() -> None:
    table = Table(title="billers")
    for column in ("code", "name", "category", "merchant_id"):
        table.add_column(column)
    for r in run(billpay.list_billers):
        table.add_row(r["code"], r["name"], r["category"], r["merchant_id"])
    console.print(table)


@app.command("issue-bill")
def issue_bill(
    biller: str, account_no: str, holder: str, period: str, amount: str, due_date: str
) -> None:
    """The biller simulator's own administration: open the account (once) and issue a bill."""
    amount_fen = parse_yuan(amount)

    def issue(p: Platform) -> str:
        p.billers.open_account(biller, account_no, holder)
        return str(p.billers.issue_bill(biller, account_no, period, amount_fen, due_date))

    console.print(f"issued {run(issue)}")


@app.command("lookup")
def lookup(biller: str, account_no: str) -> None:
    """The unpaid bills of an account at its biller."""
    table = Table(title=f"{biller} {account_no}")
    for column in ("bill_id", "period", "amount", "due"):
        table.add_column(column)
    for b in run(lambda p: billpay.lookup(p, biller, account_no)):
        table.add_row(b.bill_id, b.period, fen_to_yuan(b.amount_fen), b.due_date)
    console.print(table)


@app.command("pay")
def pay(
    user_id: str,
    biller: str,
    account_no: str,
    bill_id: str,
    request_id: str,
    pay_password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Pay one bill from the user's balance; prints the receipt."""
    row = run(
        lambda p: billpay.pay_bill(
            p, user_id, biller, account_no, bill_id, request_id, pay_password
        )
    )
    show("receipt", billpay.public_payment(row))


@app.command("autopay")
def run_autopay(day: Annotated[str, typer.Option(help="YYYY-MM-DD; default today")] = "") -> None:
    """The automatic payments (代扣) of a day (idempotent per bill)."""
    when = parse_day(day) if day else clock.today()
    result = run(lambda p: autopay.run_autopay(p, when))
    console.print(
        f"paid {len(result['paid'])}, waiting {len(result['waiting'])},"
        f" failed {len(result['failed'])}"
    )


@app.command("reconcile")
def reconcile_day(
    biller: str, day: Annotated[str, typer.Option(help="YYYY-MM-DD; default yesterday")] = ""
) -> None:
    """Reconcile a biller's daily file with our payments (exit 1 on differences)."""
    when = parse_day(day)
    report = run(lambda p: reconcile.reconcile(p, biller, when))
    show(
        f"reconciliation {report.biller_code} {report.day}",
        {k: v for k, v in report.as_dict().items() if k != "differences"},
    )
    for d in report.differences:
        console.print(
            f"[red]{d.problem}[/red] {d.request_id} biller {d.biller_amount_fen}"
            f" platform {d.platform_amount_fen} ({d.platform_status})"
        )
    if report.status != reconcile.BALANCED:
        raise typer.Exit(1)


@app.command("file")
def biller_file(
    biller: str, day: Annotated[str, typer.Option(help="YYYY-MM-DD; default yesterday")] = ""
) -> None:
    """Print the biller's daily reconciliation file (CSV, amounts in fen)."""
    when = parse_day(day)
    console.print(run(lambda p: reconcile.file_csv(p, biller, when)), end="")


@app.command("follow-up")
def follow_up() -> None:
    """Ask the biller about every payment whose answer was lost, and settle it."""
    console.print(f"{run(billpay.resolve_unanswered)} payment(s) settled")
