"""``qianbao credit …`` (Huabei for users and operators) and ``qianbao simulate credit``.

The lead mounts ``app`` as ``qianbao credit`` and ``simulate_app`` as ``qianbao simulate``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qianbao.bootstrap import open_platform
from qianbao.credit import dayend, installments, lines, purchases, reads, repayments
from qianbao.credit import schedule as sched
from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import load_settings
from qianbao.terminal import console
from qianbao.terminal import parse_yuan as _fen
from qianbao.terminal import run as _run
from qianbao.terminal import show as _show

app = typer.Typer(help="Huabei consumer credit (花呗).", no_args_is_help=True)
simulate_app = typer.Typer(help="Simulations on the business clock.", no_args_is_help=True)


@simulate_app.callback()
def _simulations() -> None:
    """Simulations (``qianbao simulate credit``)."""


Amount = Annotated[str, typer.Argument(help="amount in yuan, e.g. 12.34")]


@app.command("open")
def open_cmd(user_id: str, request_id: str = "open", due_day: int = 10) -> None:
    """Open a Huabei account (real-name adults; one per ID number and phone)."""
    _show(
        "Huabei account", _run(lambda p: lines.open_credit_account(p, user_id, request_id, due_day))
    )


@app.command()
def show(user_id: str) -> None:
    """Line, available, unbilled, billed, installments and overdue state."""
    _show("Huabei", _run(lambda p: reads.summary(p, user_id)))


@app.command()
def pay(
    user_id: str,
    merchant_id: str,
    amount: Amount,
    request_id: str,
    pay_password: str = typer.Option(None),
    installments: int = typer.Option(None),
    subsidised: bool = False,
    medical: bool = False,
) -> None:
    """Pay a merchant with Huabei (optionally in 3/6/12 installments)."""
    _show(
        "Huabei purchase",
        _run(
            lambda p: purchases.pay_merchant_with_huabei(
                p,
                user_id,
                merchant_id,
                _fen(amount),
                request_id,
                pay_password,
                installments,
                subsidised,
                "medical" if medical else None,
            )
        ),
    )


@app.command()
def refund(merchant_id: str, purchase_id: str, amount: Amount, request_id: str) -> None:
    """A merchant refunds (part of) a Huabei purchase."""
    _show(
        "Huabei purchase",
        _run(
            lambda p: purchases.refund_huabei_purchase(
                p, merchant_id, purchase_id, _fen(amount), request_id
            )
        ),
    )


@app.command()
def bills(user_id: str) -> None:
    """The user's statements."""
    rows = _run(lambda p: reads.list_statements(p, user_id))
    table = Table("bill", "due", "status", "total", "minimum", "paid", "owed", "interest")
    for s in rows:
        table.add_row(
            s["bill_date"],
            s["due_date"],
            s["status"],
            fen_to_yuan(s["total_fen"]),
            fen_to_yuan(s["minimum_fen"]),
            fen_to_yuan(s["paid_fen"]),
            fen_to_yuan(s["owed_fen"]),
            fen_to_yuan(s["interest_fen"]),
        )
    console.print(table)


@app.command()
def bill(user_id: str, statement_id: str) -> None:
    """One statement with its items."""
    st = _run(lambda p: reads.get_statement(p, user_id, statement_id))
    items = st.pop("items")
    _show("Statement", st)
    table = Table("kind", "ref", "principal", "fee", "memo")
    for i in items:
        table.add_row(
            i["kind"],
            i["ref"],
            fen_to_yuan(i["principal_fen"]),
            fen_to_yuan(i["fee_fen"]),
            i["memo"],
        )
    console.print(table)


@app.command()
def repay(
    user_id: str,
    amount: Amount,
    request_id: str,
    pay_password: str,
    card_id: str = typer.Option(None),
) -> None:
    """Repay any amount (from the wallet, or from a bound card)."""
    _show(
        "Repayment",
        _run(
            lambda p: repayments.repay(p, user_id, _fen(amount), request_id, pay_password, card_id)
        ),
    )


@app.command()
def split(user_id: str, statement_id: str, periods: int, request_id: str) -> None:
    """Split a bill into 3/6/9/12 installments (after the statement, by the due date)."""
    plan = _run(lambda p: installments.install_bill(p, user_id, statement_id, periods, request_id))
    schedule(user_id, plan["id"])


@app.command()
def schedule(user_id: str, plan_id: str) -> None:
    """Print an installment plan's schedule."""
    plan = _run(lambda p: installments.plan_schedule(p, user_id, plan_id))
    rows = [
        sched.Period(
            r["number"], date.fromisoformat(r["bill_date"]), r["principal_fen"], r["fee_fen"]
        )
        for r in plan["schedule"]
    ]
    console.print(
        f"plan {plan_id}: {plan['kind']} {plan['periods']} periods, fee rate"
        f" {plan['fee_rate']}{' (merchant-subsidised)' if plan['subsidised'] else ''},"
        f" {plan['status']}"
    )
    console.print(sched.format_schedule(rows))


@app.command()
def settle(user_id: str, plan_id: str, request_id: str) -> None:
    """Settle an installment plan early from the wallet."""
    _show("Plan", _run(lambda p: installments.settle_plan(p, user_id, plan_id, request_id)))


@app.command("request-increase")
def request_increase(user_id: str, new_line: Amount, request_id: str) -> None:
    """Ask for a higher line; the decision is recorded with its reason."""
    _show(
        "Line decision",
        _run(lambda p: lines.request_increase(p, user_id, _fen(new_line), request_id)),
    )


@app.command("set-line")
def set_line(operator_id: str, user_id: str, line: Amount, reason: str) -> None:
    """Operator: set a user's line (e.g. a decrease)."""
    _show(
        "Huabei account",
        _run(lambda p: lines.operator_set_line(p, operator_id, user_id, _fen(line), reason)),
    )


@app.command()
def freeze(operator_id: str, user_id: str, reason: str, unfreeze: bool = False) -> None:
    """Operator: freeze (or --unfreeze) a user's Huabei."""
    _show(
        "Huabei account",
        _run(lambda p: lines.operator_freeze(p, operator_id, user_id, not unfreeze, reason)),
    )


@app.command("day-end")
def day_end(day: Annotated[str, typer.Argument(help="business date YYYY-MM-DD")]) -> None:
    """Run the start- and end-of-day jobs for one business date."""
    d = date.fromisoformat(day)

    def run(p: Platform) -> dict[str, Any]:
        return {"start": dayend.start_of_day(p, d), "end": dayend.end_of_day(p, d)}

    console.print_json(json.dumps(_run(run), default=str))


@app.command()
def report(day: str = typer.Option(None, help="as of YYYY-MM-DD (default: latest)")) -> None:
    """Receivables by bucket, overdue rate and provision."""
    rep = _run(lambda p: dayend.portfolio_report(p, date.fromisoformat(day) if day else None))
    console.print_json(json.dumps(rep, default=str))


@simulate_app.command("credit")
def simulate_credit(
    users: int = typer.Option(1000, min=1, max=1_000_000),
    months: int = typer.Option(12, min=1, max=60),
    seed: int = typer.Option(1),
    out: Path = typer.Option(Path("var/simulations/credit"), help="report directory"),
    threads: int = typer.Option(8, min=1, max=64),
    data_dir: Path = typer.Option(None, help="databases (default: <out>/data, fresh)"),
) -> None:
    """Run a population through months of Huabei and write plots, CSV and summary.json."""
    import shutil

    from qianbao.credit.simulate import simulate

    data = data_dir or out / "data"
    if data.exists() and data_dir is None:
        shutil.rmtree(data)
    settings = load_settings().with_(
        data_dir=data,
        sqlite_synchronous="OFF",
        password_time_cost=1,
        password_memory_kib=1024,
        writer_queue_max=200_000,
    )
    p = open_platform(settings)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            summary = simulate(
                p,
                users=users,
                months=months,
                seed=seed,
                out_dir=out,
                threads=threads,
                progress=progress,
            )
    finally:
        from qianbao.platform.clock import clock

        clock.use_real_time()
        p.close()
    table = Table("month", "receivables", "overdue rate", "provision", "interest", "inst. fees")
    for r in summary["monthly"]:
        table.add_row(
            r["month"],
            fen_to_yuan(r["receivables_fen"]),
            f"{r['overdue_rate']:.2%}",
            fen_to_yuan(r["provision_fen"]),
            fen_to_yuan(r["interest_income_fen"]),
            fen_to_yuan(r["installment_fee_income_fen"]),
        )
    console.print(table)
    ok = "[green]clean[/green]" if summary["ledger_check_ok"] else "[red]NOT CLEAN[/red]"
    console.print(
        f"{users} users x {months} months in {summary['seconds']} s; ledger {ok}; report in {out}/"
    )
    if not summary["ledger_check_ok"]:
        raise typer.Exit(1)
