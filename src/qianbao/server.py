"""The served application: API, pages, and the background jobs of a running platform."""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI

from qianbao.api.app import create_app
from qianbao.payments import service as payments
from qianbao.platform.runtime import Platform
from qianbao.web import pages

log = logging.getLogger("qianbao.jobs")
BANK_FOLLOW_UP_S = 30


def _jobs(p: Platform, stop: threading.Event) -> None:
    """Periodic work: ask the bank about orders whose outcome is still unknown."""
    while not stop.wait(BANK_FOLLOW_UP_S):
        try:
            payments.resolve_pending_bank_orders(p, older_than_ms=BANK_FOLLOW_UP_S * 1000)
        except Exception:
            log.exception("bank follow-up failed; will retry")


def build_app(p: Platform, stop: threading.Event | None = None) -> FastAPI:
    app = create_app(p, extra_routers=[pages.router])
    if stop is not None:
        threading.Thread(target=_jobs, args=(p, stop), name="jobs", daemon=True).start()
    return app
