"""The ``qianbao`` command: set up, serve, and operate the platform from a terminal."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from qianbao.backoffice.cli import keys_app as data_keys_app
from qianbao.backoffice.controls.cli import app as controls_app
from qianbao.billpay.cli import app as billpay_app
from qianbao.bootstrap import migrate, open_platform
from qianbao.cluster import cli as cluster_cli
from qianbao.cluster.buckets import cli as units_cli
from qianbao.credit.cli import app as credit_app
from qianbao.credit.cli import simulate_app
from qianbao.marketing.cli import app as coupon_app
from qianbao.marketing.reductions.cli import app as reduction_app
from qianbao.members.cli import app as keys_app
from qianbao.notices.cli import app as notices_app
from qianbao.openapi.cli import app as openapi_app
from qianbao.payments.moneyout.cli import app as moneyout_app
from qianbao.platform.cli import app as broker_app
from qianbao.platform.logs import configure_logging
from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import load_settings
from qianbao.redpackets.cli import app as redpacket_app
from qianbao.risk.cli import app as risk_app
from qianbao.scoring.cli import app as score_app
from qianbao.terminal import console, parse_day
from qianbao.terminal import parse_yuan as _fen
from qianbao.terminal import run as _run
from qianbao.terminal import show as _show
from qianbao.wealth.cli import app as yuebao_app

app = typer.Typer(help="Qianbao wallet, payment and credit platform.", no_args_is_help=True)
user_app = typer.Typer(help="Users (会员).", no_args_is_help=True)
merchant_app = typer.Typer(help="Merchants (商户).", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger (账务).", no_args_is_help=True)
operator_app = typer.Typer(help="Operators of the console.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(merchant_app, name="merchant")
app.add_typer(ledger_app, name="ledger")
app.add_typer(operator_app, name="operator")
messages_app = typer.Typer(help="Transactional messages between units.", no_args_is_help=True)
app.add_typer(messages_app, name="messages")
app.add_typer(coupon_app, name="coupon")
app.add_typer(notices_app, name="notices")
app.add_typer(redpacket_app, name="redpacket")
settle_app = typer.Typer(help="T+1 merchant settlement (结算).", no_args_is_help=True)
app.add_typer(settle_app, name="settlement")
app.add_typer(credit_app, name="credit", help="Huabei consumer credit (花呗).")
app.add_typer(simulate_app, name="simulate", help="Simulations on the business clock.")
app.add_typer(openapi_app, name="openapi", help="Open platform: sandbox app, jobs, notifications.")
app.add_typer(yuebao_app, name="yuebao", help="Yu'e Bao (余额宝): the money-market fund.")
app.add_typer(moneyout_app, name="moneyout")
app.add_typer(billpay_app, name="billpay")
app.add_typer(reduction_app, name="reduction")
# One `qianbao keys` group: API keys and sessions (members) and the data-at-rest keys (backoffice)
keys_app.registered_commands += data_keys_app.registered_commands
app.add_typer(
    keys_app, name="keys", help="Keys: API keys and sessions; data-at-rest keys (rotate, status)."
)
app.add_typer(broker_app, name="broker")
app.add_typer(controls_app, name="controls")  # flow limits, switches (ADR 0940-0942)
app.add_typer(cluster_cli.app, name="cluster")
app.add_typer(units_cli.app, name="units")
app.command("serve-unit")(cluster_cli.serve_unit)
app.add_typer(
    score_app, name="score", help="Credit score (芝麻分-style scorecard): train, evaluate, report."
)
app.add_typer(risk_app, name="risk", help="Real-time risk control (风控): model, evaluation.")

Amount = Annotated[str, typer.Argument(help="amount in yuan, e.g. 12.34")]


def _open() -> Platform:
    return open_platform(load_settings())


@app.command()
def init() -> None:
    """Create the databases and apply every migration."""
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings)
    console.print(
        f"[green]migrated[/green] global and {settings.unit_count} unit database(s)"
        f" under {settings.data_dir}/"
    )


@app.command()
def demo() -> None:
    """Load the demo data (once) and print the accounts to log in with."""
    from qianbao.demo import load_demo

    data, created = _run(load_demo)
    console.print("[green]demo data loaded[/green]" if created else "demo data already loaded")
    table = Table(title="Demo accounts")
    for col in ("who", "login", "secret", "id"):
        table.add_column(col, overflow="fold")  # keys must be copyable whole
    for u in data["users"]:
        table.add_row(
            f"user {u['name']} (unit {u['unit']})",
            f"phone {u['phone']}",
            f"password {u['login_password']}, pay password {u['pay_password']}",
            u["user_id"],
        )
    m, o = data["merchant"], data["operator"]
    table.add_row(f"merchant {m['name']}", "API key", m["api_key"], m["merchant_id"])
    once = o.get("api_key") or "printed once, at creation (`qianbao keys rotate-operator`)"
    table.add_row(f"operator {o['name']}", "API key", once, o["operator_id"])
    console.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default from settings: 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default from settings: 8000")] = None,
) -> None:
    """Serve the API (/api/v1, /docs) and the console pages."""
    import uvicorn

    from qianbao.api.wire import OneWriteHttp
    from qianbao.server import build_app

    settings = load_settings()
    configure_logging(logging.INFO)  # JSON lines through structlog (platform/logs.py)
    if settings.unit_endpoints:  # distributed: a stateless access-layer process
        cluster_cli.serve_access(host, port)
    p = open_platform(settings)
    stop = threading.Event()
    try:
        uvicorn.run(
            build_app(p, stop),
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            log_config=None,
            access_log=False,  # the API's own access line carries request id, caller, unit
            http=OneWriteHttp,  # one send per response (api/wire.py)
        )
    finally:
        stop.set()
        p.close()


# --- users and merchants -------------------------------------------------------------------
@user_app.command("register")
def user_register(
    name: str,
    id_number: str,
    phone: str,
    login_password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    pay_password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Register a real-name user."""
    from qianbao.members import service as members

    row = _run(
        lambda p: members.register_user(
            p, members.NewUser(name, id_number, phone, login_password, pay_password)
        )
    )
    _show("user", members.public_user(row))


@user_app.command("show")
def user_show(user_id: str) -> None:
    """A user and the wallet balance."""
    from qianbao.members import service as members
    from qianbao.payments import service as payments

    _show(
        "user",
        _run(
            lambda p: {
                **members.public_user(members.get_user(p, user_id)),
                "unit": p.unit_of(user_id),
                **payments.balance(p, user_id),
            }
        ),
    )


@user_app.command("bind-card")
def user_bind_card(user_id: str, card_no: str) -> None:
    """Bind a bank card (the bank simulator confirms the holder)."""
    from qianbao.members import service as members

    _show("card", _run(lambda p: members.public_card(members.bind_card(p, user_id, card_no))))


@merchant_app.command("create")
def merchant_create(name: str, fee_rate: Annotated[str | None, typer.Option()] = None) -> None:
    """Sign a merchant; prints its API key once."""
    from decimal import Decimal

    from qianbao.members import service as members

    row, key = _run(
        lambda p: members.create_merchant(p, name, Decimal(fee_rate) if fee_rate else None)
    )
    _show("merchant", {**dict(row), "api_key": key})


@merchant_app.command("list")
def merchant_list() -> None:
    from qianbao.members import service as members

    rows = _run(members.list_merchants)
    table = Table("merchant_id", "name", "fee_rate", "settle_cycle", "status")
    for r in rows:
        table.add_row(r["id"], r["name"], r["fee_rate"], r["settle_cycle"], r["status"])
    console.print(table)


@merchant_app.command("balance")
def merchant_balance(merchant_id: str) -> None:
    from qianbao.payments import service as payments

    _show("merchant balance", _run(lambda p: payments.merchant_balance(p, merchant_id)))


@merchant_app.command("set-cycle")
def merchant_set_cycle(
    merchant_id: str, cycle: Annotated[str, typer.Argument(help="INSTANT or T1")]
) -> None:
    """Set the settlement cycle of a merchant's contract (INSTANT or T1)."""
    from qianbao.members import service as members

    row = _run(lambda p: members.set_settle_cycle(p, merchant_id, cycle))
    console.print(f"merchant {row['id']} settles [green]{row['settle_cycle']}[/green]")


@settle_app.command("run")
def settlement_run(
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD, default yesterday")] = None,
) -> None:
    """Settle the T+1 batches of a day that is over (safe to run again)."""
    from datetime import date

    from qianbao.payments import settlement

    when = date.fromisoformat(day) if day else None
    _show("settlement run", _run(lambda p: settlement.run_settlement(p, when)))


@settle_app.command("list")
def settlement_list(merchant_id: str, limit: int = 30) -> None:
    """A merchant's settlement batches, newest day first, and what is pending."""
    from qianbao.payments import settlement

    def run(p: Platform) -> Any:
        rows = settlement.list_batches(p, merchant_id, limit=limit)
        return settlement.cycle_of(p, merchant_id), settlement.pending_fen(p, merchant_id), rows

    cycle, pending, rows = _run(run)
    table = Table(
        "day",
        "unit",
        "status",
        "gross",
        "refunds",
        "fee",
        "from balance",
        "settled",
        "voucher",
        title=f"merchant {merchant_id}: {cycle}, pending {fen_to_yuan(pending)} CNY",
    )
    for b in rows:
        table.add_row(
            b["day"],
            str(b["unit"]),
            b["status"],
            fen_to_yuan(b["gross_fen"]),
            fen_to_yuan(b["refund_fen"]),
            fen_to_yuan(b["fee_fen"]),
            fen_to_yuan(b["from_balance_fen"]),
            fen_to_yuan(b["net_fen"]),
            b["voucher_id"] or "",
        )
    console.print(table)


@operator_app.command("create")
def operator_create(
    name: str, role: Annotated[str, typer.Option(help="admin | auditor")] = "auditor"
) -> None:
    """Create an operator; prints its API key once."""
    from qianbao.members import service as members

    row, key = _run(lambda p: members.create_operator(p, name, role))
    _show("operator", {**dict(row), "api_key": key})


# --- money -------------------------------------------------------------------------------------
@app.command()
def topup(user_id: str, card_id: str, amount: Amount, request_id: str) -> None:
    """Top up a wallet from a bound card (yuan)."""
    from qianbao.payments import service as payments

    fen = _fen(amount)
    _show(
        "top-up",
        _run(
            lambda p: payments.public_bank_order(
                payments.topup(p, user_id, card_id, fen, request_id)
            )
        ),
    )


@app.command()
def withdraw(
    user_id: str,
    card_id: str,
    amount: Amount,
    request_id: str,
    pay_password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Withdraw to a bound card (yuan); 0.1% above the free quota."""
    from qianbao.payments import service as payments

    fen = _fen(amount)
    _show(
        "withdrawal",
        _run(
            lambda p: payments.public_bank_order(
                payments.withdraw(p, user_id, card_id, fen, request_id, pay_password)
            )
        ),
    )


@app.command()
def transfer(
    from_user: str,
    to_user: str,
    amount: Amount,
    request_id: str,
    pay_password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Transfer between users (yuan)."""
    from qianbao.payments import service as payments

    fen = _fen(amount)

    def run(p: Platform) -> Any:
        row = payments.transfer(p, from_user, to_user, fen, request_id, pay_password)
        p.relay.drain()
        return payments.public_transfer(row)

    _show("transfer", _run(run))


@app.command()
def pay(
    user_id: str,
    merchant_id: str,
    amount: Amount,
    request_id: str,
    pay_password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Pay a merchant (yuan)."""
    from qianbao.payments import service as payments

    fen = _fen(amount)

    def run(p: Platform) -> Any:
        row = payments.pay_merchant(p, user_id, merchant_id, fen, request_id, pay_password)
        p.relay.drain()
        return payments.public_payment(row)

    _show("payment", _run(run))


@app.command()
def refund(merchant_id: str, payment_id: str, amount: Amount, request_id: str) -> None:
    """Refund (part of) a payment as its merchant (yuan)."""
    from qianbao.payments import service as payments

    fen = _fen(amount)

    def run(p: Platform) -> Any:
        row = payments.refund(p, merchant_id, payment_id, fen, request_id)
        p.relay.drain()
        return payments.public_refund(row)

    _show("refund", _run(run))


@app.command()
def balance(user_id: str) -> None:
    """A user's wallet balance."""
    from qianbao.payments import service as payments

    _show("balance", _run(lambda p: payments.balance(p, user_id)))


@app.command()
def statement(user_id: str, limit: int = 20) -> None:
    """A user's wallet statement with running balance."""
    from qianbao.ledger import service as ledger
    from qianbao.payments import service as payments

    lines = _run(
        lambda p: ledger.statement(p.db_for(user_id), payments.user_account(user_id), limit)
    )
    table = Table("posting", "kind", "ref", "amount", "balance after", title=f"statement {user_id}")
    for line in lines:
        table.add_row(
            str(line["posting_id"]),
            line["kind"],
            line["ref"],
            fen_to_yuan(line["amount_fen"]),
            fen_to_yuan(line["balance_after_fen"]),
        )
    console.print(table)


@ledger_app.command("check")
def ledger_check(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Prove the ledger sums to zero and every cached balance equals its postings."""
    from qianbao.ledger.service import check_platform

    def run(p: Platform) -> Any:
        p.relay.drain()
        return check_platform(p)

    result = _run(run)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "ok": result.ok,
                    "status": result.status,
                    "in_transit_fen": result.in_transit_fen,
                    "units": [asdict(u) for u in result.units],
                }
            )
        )
    else:
        table = Table(
            "unit",
            "accounts",
            "Σ postings (fen)",
            "mismatched",
            "unbalanced",
            "negative",
            "ok",
            title="ledger check",
        )
        for u in result.units:
            table.add_row(
                str(u.unit),
                str(u.accounts),
                str(u.postings_sum_fen),
                str(len(u.mismatched)),
                str(len(u.unbalanced_vouchers)),
                str(len(u.negative)),
                "[green]yes[/green]" if u.ok else "[red]NO[/red]",
            )
        console.print(table)
        console.print(f"money in transit between units: {result.in_transit_fen} fen")
        console.print(f"status: {result.status}")
    if not result.ok:  # money in transit is a state (it arrives), not a failure of the books
        raise typer.Exit(1)


@score_app.command("platform-report")
def score_platform_report(
    days: Annotated[int, typer.Option(help="applications of the last N days")] = 90,
    out: Annotated[str, typer.Option(help="output directory")] = "reports/scorecard-platform",
) -> None:
    """The analyst's page for the platform's active card, with PSI against recent applicants."""
    from pathlib import Path

    from qianbao.scoring import service as scoring

    path = _run(lambda p: scoring.write_platform_report(p, Path(out), days))
    console.print(f"report written to {path}")


@messages_app.command("dead")
def messages_dead() -> None:
    """Messages that failed their maximum number of deliveries (the relay stopped trying)."""
    rows = _run(lambda p: p.relay.dead())
    table = Table("id", "topic", "to unit", "attempts", "payload", title="dead messages")
    for m in rows:
        table.add_row(m["id"], m["topic"], str(m["dest_unit"]), str(m["attempts"]), m["payload"])
    console.print(table if rows else "no dead messages")


@messages_app.command("requeue")
def messages_requeue() -> None:
    """Deliver dead messages again (after fixing what made them fail), then drain."""

    def run(p: Platform) -> int:
        n = p.relay.requeue_dead()
        p.relay.drain()
        return n

    console.print(f"requeued {_run(run)} message(s)")


@app.command("resolve-bank")
def resolve_bank(older_than_s: int = 0) -> None:
    """Query the bank about pending top-ups and withdrawals."""
    from qianbao.payments import service as payments

    n = _run(lambda p: payments.resolve_pending_bank_orders(p, older_than_s * 1000))
    console.print(f"resolved {n} order(s)")


DayOption = Annotated[str, typer.Option(help="business day YYYY-MM-DD; default yesterday")]


@ledger_app.command("close-day")
def ledger_close_day(day: DayOption = "") -> None:
    """Close a finished day (日结): daily balances, subject summary, trial balance."""
    from qianbao.ledger import closing

    when = parse_day(day)
    _print_trial_balance(_run(lambda p: closing.close_day(p, when)))


@ledger_app.command("trial-balance")
def ledger_trial_balance(day: DayOption = "") -> None:
    """Show a day's subject summary and trial balance (closed figures if the day is closed)."""
    from qianbao.ledger import closing

    when = parse_day(day)
    _print_trial_balance(_run(lambda p: closing.trial_balance(p, when)))


def _print_trial_balance(tb: Any) -> None:
    table = Table("subject", "accounts", "opening", "debit", "credit", "closing", title=str(tb.day))
    for s in tb.subjects():
        if s.accounts or s.debit_fen or s.credit_fen:
            table.add_row(
                s.subject,
                str(s.accounts),
                *(
                    fen_to_yuan(v)
                    for v in (s.opening_fen, s.debit_fen, s.credit_fen, s.closing_fen)
                ),
            )
    if table.row_count:
        console.print(table)
    else:
        console.print(f"nothing was booked by the end of {tb.day}")
    for u in tb.units:
        state = "[green]closed[/green]" if u.closed else "[yellow]open[/yellow]"
        console.print(
            f"unit {u.unit}: {state}, {u.vouchers} vouchers, {u.postings} postings,"
            f" debits {fen_to_yuan(u.debit_fen)} = credits {fen_to_yuan(u.credit_fen)} CNY"
        )
        for problem in u.problems:
            console.print(f"  [red]{problem}[/red]")
    if not tb.ok:
        raise typer.Exit(1)


@app.command("reconcile")
def reconcile_bank(
    day: DayOption = "",
    channel: str = "SIMBANK",
    csv_file: Annotated[str, typer.Option("--csv", help="write the differences here")] = "",
) -> None:
    """Reconcile a bank channel's statement of a day with our journal and ledger (渠道对账)."""
    from qianbao.channels import reconcile as recon

    when = parse_day(day)
    report = _run(lambda p: recon.reconcile(p, channel, when)).as_dict()
    colour = "green" if report["status"] == recon.BALANCED else "red"
    console.print(f"[{colour}]{channel} {report['day']}: {report['status']}[/{colour}]")
    _show(
        "reconciliation",
        {k: v for k, v in report.items() if k not in ("differences", "failed_payouts")},
    )
    if report["differences"]:
        table = Table("request", "problem", "bank", "ours", "bank fen", "our fen", "what to do")
        for d in report["differences"]:
            table.add_row(
                d["request_id"],
                d["problem"],
                d["bank_status"],
                d["platform_status"],
                str(d["bank_amount_fen"]),
                str(d["platform_amount_fen"]),
                d["hint"],
            )
        console.print(table)
    if csv_file:
        with open(csv_file, "w", encoding="utf-8") as out:
            out.write(recon.differences_csv(report))
        console.print(f"differences written to {csv_file}")
    if report["status"] != recon.BALANCED:
        raise typer.Exit(3)


@app.command("redrive-payout")
def redrive_payout(request_id: str, channel: str = "SIMBANK") -> None:
    """Send a payout the bank declined (a card refund, a reversal) again (see `reconcile`)."""
    from qianbao.channels import resolve

    _show("payout", _run(lambda p: resolve.redrive_payout(p, channel, request_id)))


@app.command("book-suspense")
def book_suspense(request_id: str, day: DayOption = "", channel: str = "SIMBANK") -> None:
    """Book a BANK_ONLY line of a day's reconciliation to suspense (see `reconcile`)."""
    from qianbao.channels import resolve

    when = parse_day(day)
    _show("suspense", _run(lambda p: resolve.adopt_bank_only(p, channel, when, request_id)))


if __name__ == "__main__":
    app()
