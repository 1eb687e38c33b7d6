"""The served application: API, pages, and the background jobs of a running platform."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI

from qianbao.api import credit as credit_api
from qianbao.api import gateway
from qianbao.api import marketing as marketing_api
from qianbao.api import notices as notices_api
from qianbao.api import redpackets as redpackets_api
from qianbao.api import scoring as scoring_api
from qianbao.api import trades as trade_api
from qianbao.api.app import create_app
from qianbao.channels import reconcile as recon
from qianbao.credit import dayend
from qianbao.ledger import closing
from qianbao.notices import delivery as notice_delivery
from qianbao.openapi import notify
from qianbao.payments import secured, settlement
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.redpackets import claims as redpacket_claims
from qianbao.web import pages, risk_pages
from qianbao.web import wallet as wallet_pages

log = logging.getLogger("qianbao.jobs")
JOB_TICK_S = 5
BANK_FOLLOW_UP_S = 30


def _jobs(p: Platform, stop: threading.Event) -> None:
    """Periodic work on the business clock: trade timeouts and auto-confirmation, merchant
    notifications due for (re)delivery, bank orders whose outcome was lost in a timeout, Huabei's
    day jobs, and the books' day end (closing, then each bank channel's reconciliation)."""
    due: list[tuple[str, float, Callable[[], Any]]] = [
        ("trade jobs", JOB_TICK_S, lambda: secured.run_due_jobs(p)),
        ("notifications", JOB_TICK_S, lambda: notify.deliver_due(p)),
        ("customer notices", JOB_TICK_S, lambda: notice_delivery.deliver_due(p)),
        ("red packet refunds", JOB_TICK_S, lambda: redpacket_claims.refund_expired(p)),
        (
            "bank follow-up",
            BANK_FOLLOW_UP_S,
            lambda: payments.resolve_pending_bank_orders(p, older_than_ms=BANK_FOLLOW_UP_S * 1000),
        ),
    ]
    due.append(("Huabei day jobs", JOB_TICK_S, _credit_days(p)))
    due.append(("T+1 settlement", JOB_TICK_S, _settlement_days(p)))
    due.append(("books day end", JOB_TICK_S, _books_days(p)))
    last = {name: 0.0 for name, _, _ in due}
    while not stop.wait(JOB_TICK_S):
        for name, every_s, job in due:
            if time.monotonic() - last[name] < every_s:
                continue
            last[name] = time.monotonic()
            try:
                job()
            except Exception:
                log.exception("%s failed; will retry", name)


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
    """Once per business date: close the books in every unit up to yesterday (日结; days missed
    while the server was down first), then reconcile each bank channel's statement of
    yesterday. Both are idempotent for their date (a closed day stays as it was, a
    reconciliation report is replaced), so a restart changes nothing. What does not balance is
    logged."""
    done: set[date] = set()

    def run() -> None:
        day = clock.today() - timedelta(days=1)
        if day in done:
            return
        for books in closing.close_through(p, day):
            for unit in books.units:
                for problem in unit.problems:
                    log.error("day close %s unit %s: %s", books.day, unit.unit, problem)
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


def build_app(p: Platform, stop: threading.Event | None = None) -> FastAPI:
    app = create_app(
        p,
        extra_routers=[
            pages.router,
            wallet_pages.router,
            risk_pages.router,
            trade_api.pages,
            trade_api.router,
            gateway.router,
            scoring_api.router,
            marketing_api.router,
            notices_api.router,
            redpackets_api.router,
            *credit_api.routers,
        ],
    )
    if stop is not None:
        threading.Thread(target=_jobs, args=(p, stop), name="jobs", daemon=True).start()
    return app
