"""The served application: API, pages, and the background jobs of a running platform."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI

from qianbao.api import billpay as billpay_api
from qianbao.api import credit as credit_api
from qianbao.api import gateway
from qianbao.api import marketing as marketing_api
from qianbao.api import merchant_applications as merchant_applications_api
from qianbao.api import notices as notices_api
from qianbao.api import payouts as payouts_api
from qianbao.api import redpackets as redpackets_api
from qianbao.api import reductions as reductions_api
from qianbao.api import scoring as scoring_api
from qianbao.api import trades as trade_api
from qianbao.api import wealth as wealth_api
from qianbao.api.app import create_app
from qianbao.billpay import autopay as billpay_autopay
from qianbao.billpay import reconcile as billpay_recon
from qianbao.billpay import service as billpay
from qianbao.channels import reconcile as recon
from qianbao.credit import dayend
from qianbao.ledger import closing
from qianbao.members import housekeeping as credential_housekeeping
from qianbao.notices import delivery as notice_delivery
from qianbao.openapi import notify
from qianbao.payments import secured, settlement
from qianbao.payments import service as payments
from qianbao.payments.moneyout import orders as moneyout_orders
from qianbao.payments.moneyout import payouts as moneyout_payouts
from qianbao.platform import route_store
from qianbao.platform.clock import clock
from qianbao.platform.jobs import Job, Scheduler
from qianbao.platform.runtime import Platform
from qianbao.redpackets import claims as redpacket_claims
from qianbao.risk import stream as risk_stream
from qianbao.wealth import jobs as yuebao_jobs
from qianbao.web import (
    merchant_onboarding,
    ops_approvals,
    ops_books,
    ops_growth,
    ops_merchants,
    ops_people,
    ops_plots,
    ops_recon,
    ops_shell,
    ops_support,
    pages,
    risk_pages,
    wallet_cards,
    wallet_home,
    wallet_money,
    wallet_pay,
    wallet_shell,
    wallet_trades,
)
from qianbao.web import wallet as wallet_pages
from qianbao.web.wallet_credit import router as wallet_credit_pages
from qianbao.web.wallet_score import router as wallet_score_pages

log = logging.getLogger("qianbao.jobs")
JOB_TICK_S = 5
BANK_FOLLOW_UP_S = 30
RISK_DETECTORS_S = 60  # near real time: the detectors read the stream every minute


def periodic_jobs(p: Platform, tick_s: float = JOB_TICK_S) -> list[Job]:
    """The periodic work on the business clock, each job its own worker (platform/jobs.py):
    trade timeouts and auto-confirmation, merchant notifications due for (re)delivery, bank
    orders whose outcome was lost in a timeout, Huabei's day jobs, T+1 settlement, the books'
    day close and each bank channel's reconciliation. Each runs for the units this process owns
    (``Platform.owned_units``); the reconciliation, which compares all units with the bank's
    statement, runs in the owner of unit 0. Every job is bounded per run and idempotent."""
    follow_up_s = max(tick_s, BANK_FOLLOW_UP_S * tick_s / JOB_TICK_S)
    jobs = [
        Job("trade_timeouts", tick_s, lambda: secured.run_due_jobs(p)),
        Job("notifications", tick_s, lambda: notify.deliver_due(p)),
        Job("customer_notices", tick_s, lambda: notice_delivery.deliver_due(p)),
        Job("red_packet_refunds", tick_s, lambda: redpacket_claims.refund_expired(p)),
        Job(
            "bank_follow_up",
            follow_up_s,
            lambda: payments.resolve_pending_bank_orders(p, older_than_ms=BANK_FOLLOW_UP_S * 1000),
        ),
        Job("credential_housekeeping", 3600, lambda: credential_housekeeping.purge(p)),
        Job("route_table", route_store.REFRESH_S, lambda: route_store.refresh(p)),  # ADR 0935
        # Yu'e Bao's day first (its T+1 confirmations), then Huabei's auto-debit draws on it
        Job("yuebao_then_huabei_days", tick_s, _in_order(_yuebao_days(p), _credit_days(p))),
        Job("settlement_t1", tick_s, _settlement_days(p)),
        Job("books_close", tick_s, _books_days(p)),
    ]
    if p.owns(0):
        jobs.append(Job("reconciliation", tick_s, _reconcile_days(p)))
        jobs.append(Job("risk_detectors", RISK_DETECTORS_S * tick_s / JOB_TICK_S, _detectors(p)))
    jobs += [Job(name, every_s, run) for name, every_s, run in _money_out_jobs(p)]
    jobs += [Job(name, every_s, run) for name, every_s, run in _billpay_jobs(p)]
    return jobs


def _detectors(p: Platform) -> Callable[[], object]:
    """The risk detectors over the movement stream (left out when risk control is)."""
    if p.money is None or getattr(p.money, "risk", None) is None:
        return lambda: None
    return risk_stream.job(p)


def run_jobs(p: Platform, stop: threading.Event | None = None) -> Scheduler:
    """Start every periodic job on its own worker (the first runs one tick after start)."""
    jobs = periodic_jobs(p)
    for job in jobs:
        job.first_after_s = JOB_TICK_S
    return Scheduler(jobs, stop).start()


def _credit_days(p: Platform) -> Callable[[], None]:
    """Huabei's start of day (bills, reminders) once per business date, and the end of day
    (auto-debit, overdue, interest, provisions) of a date once it is over. Both are idempotent
    for their date, so a restart that runs them again changes nothing."""
    done: set[tuple[str, date]] = set()

    def run() -> None:
        today = clock.today()
        for job, day, fn in (
            ("end", today - timedelta(days=1), dayend.end_of_day),
            ("start", today, dayend.start_of_day),
        ):
            if (job, day) not in done:
                fn(p, day)
                done.add((job, day))

    return run


def _in_order(*steps: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        for step in steps:
            step()

    return run


def _yuebao_days(p: Platform) -> Callable[[], None]:
    """Yu'e Bao's days once they are over (application file, income, reconciliation; days
    missed while the server was down first), then today's start (the fund's T+1
    confirmations), before Huabei's auto-debit draws on it. Each step is idempotent per unit
    and day, so a restart changes nothing."""
    done: set[date] = set()

    def run() -> None:
        today = clock.today()
        if today not in done:
            yuebao_jobs.catch_up(p, today)
            done.add(today)

    return run


def _settlement_days(p: Platform) -> Callable[[], None]:
    """The T+1 settlement of a business date once it is over (idempotent per merchant and day,
    so a restart that runs it again changes nothing; a batch that failed is retried next tick)."""
    done: set[date] = set()

    def run() -> None:
        day = clock.today() - timedelta(days=1)
        if day not in done and not settlement.run_settlement(p, day)["failed"]:
            done.add(day)

    return run


def _books_days(p: Platform) -> Callable[[], None]:
    """Once per business date: close the books of the owned units up to yesterday (日结; days
    missed while the server was down first). Idempotent for its date (a closed day stays as it
    was), so a restart changes nothing. What does not balance is logged, and retried next tick."""
    done: set[date] = set()

    def run() -> None:
        day = clock.today() - timedelta(days=1)
        if day in done:
            return
        balanced = True
        for books in closing.close_through(p, day):
            for unit in books.units:
                for problem in unit.problems:
                    balanced = False
                    log.error("day close %s unit %s: %s", books.day, unit.unit, problem)
        if balanced:
            done.add(day)

    return run


def _reconcile_days(p: Platform) -> Callable[[], None]:
    """Once per business date: reconcile each bank channel's statement of yesterday with the
    ledger (a report is replaced when run again, so a restart changes nothing)."""
    done: set[date] = set()

    def run() -> None:
        day = clock.today() - timedelta(days=1)
        if day in done:
            return
        for channel in p.channels:
            report = recon.reconcile(p, channel, day)
            if report.status != recon.BALANCED:
                log.error(
                    "reconciliation %s %s: %s differences, ledger - bank = %s fen",
                    channel,
                    day,
                    len(report.differences),
                    report.balance_difference_fen,
                )
        done.add(day)

    return run


def _money_out_jobs(p: Platform) -> list[tuple[str, float, Callable[[], Any]]]:
    """Payouts and card transfers whose bank answer was lost, and the automatic daily payout
    (once per business date, for the day that just ended; idempotent by its request id)."""
    done: set[date] = set()

    def daily() -> None:
        day = clock.today() - timedelta(days=1)
        if day not in done and not moneyout_payouts.run_auto_payouts(p, day)["failed"]:
            done.add(day)

    def follow_up() -> None:
        moneyout_orders.resolve_pending(p, older_than_ms=BANK_FOLLOW_UP_S * 1000)

    return [
        ("money-out follow-up", BANK_FOLLOW_UP_S, follow_up),
        ("daily payouts", JOB_TICK_S, daily),
    ]


def _billpay_jobs(p: Platform) -> list[tuple[str, float, Callable[[], Any]]]:
    """Bill payments whose biller answer was lost; once per business date the automatic
    payments (代扣) of the day and each biller's reconciliation of yesterday (both idempotent)."""
    done: set[date] = set()

    def daily() -> None:
        today = clock.today()
        if today in done:
            return
        billpay_autopay.run_autopay(p, today)
        for report in billpay_recon.reconcile_all(p, today - timedelta(days=1)):
            if report.status != billpay_recon.BALANCED:
                log.error(
                    "biller reconciliation %s %s: %s",
                    report.biller_code,
                    report.day,
                    [d.problem for d in report.differences],
                )
        done.add(today)

    def follow_up() -> None:
        billpay.resolve_unanswered(p, older_than_ms=BANK_FOLLOW_UP_S * 1000)

    return [("bill follow-up", BANK_FOLLOW_UP_S, follow_up), ("bill days", JOB_TICK_S, daily)]


def build_app(p: Platform, stop: threading.Event | None = None) -> FastAPI:
    app = create_app(
        p,
        extra_routers=[
            pages.router,
            wallet_pages.router,
            wallet_money.router,
            wallet_credit_pages,
            wallet_score_pages,
            wallet_home.router,
            wallet_cards.router,
            wallet_pay.router,
            wallet_trades.router,
            ops_shell.router,
            risk_pages.router,
            ops_approvals.router,
            ops_recon.router,
            ops_support.router,
            ops_growth.router,
            ops_merchants.router,
            merchant_onboarding.router,
            ops_people.router,
            ops_books.router,
            ops_plots.router,
            trade_api.pages,
            trade_api.router,
            merchant_applications_api.router,
            gateway.router,
            scoring_api.router,
            marketing_api.router,
            notices_api.router,
            redpackets_api.router,
            *credit_api.routers,
            wealth_api.router,
            wealth_api.pages,
            *payouts_api.routers,
            *billpay_api.routers,
            reductions_api.router,
        ],
    )
    app.add_exception_handler(wallet_shell.LoginNeeded, wallet_shell.login_needed)
    if stop is not None:
        jobs = app.state.jobs = run_jobs(p, stop)
        # at server shutdown, before the platform closes: no new run, the running ones finish
        app.router.on_shutdown.append(lambda: jobs.stop(timeout_s=10))
    return app
