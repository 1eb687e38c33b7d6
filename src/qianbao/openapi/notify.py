"""Asynchronous notifications (异步通知) to a merchant's ``notify_url``.

A notification is queued in the same unit transaction as the trade change it reports (so it
exists if and only if the change committed), then POSTed form-encoded and signed with the
platform's key for the app, until the merchant answers the body ``success``. Failures are
retried on a growing schedule on the business clock and every attempt is logged; an operator
can read the log and send again. Merchants must treat a notification as "at least once" and
check ``out_trade_no`` and ``notify_id`` (duplicates carry the same ``notify_id``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import httpx

from qianbao.openapi import apps, outbound, signing
from qianbao.openapi.errors import NotifyNotFound
from qianbao.platform.breaker import CallTimedOut
from qianbao.platform.clock import TZ, clock
from qianbao.platform.controls import NOTIFY_DEFER
from qianbao.platform.db import Database, Row, Tx
from qianbao.platform.errors import Conflict, DependencyUnavailable
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.notify")

# Seconds to wait after the n-th failed attempt (the gateway convention: 4m, 10m, 10m, 1h, 2h,
# 6h, 15h); after the last one the task gives up and waits for an operator's resend.
RETRY_SCHEDULE_S = (4 * 60, 10 * 60, 10 * 60, 3600, 2 * 3600, 6 * 3600, 15 * 3600)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_S) + 1
DELIVER_BATCH_MAX = 200
SUCCESS_BODY = "success"
PENDING, DELIVERED, GAVE_UP = "PENDING", "DELIVERED", "GAVE_UP"
# A task is tried until delivered or given up; an operator may send any task again.
NOTIFY_TASK = StateMachine(
    "notify task",
    "notify_tasks",
    {PENDING: {PENDING, DELIVERED, GAVE_UP}, DELIVERED: {PENDING}, GAVE_UP: {PENDING}},
)


def ms_to_text(ms: int | None) -> str:
    if ms is None:
        return ""
    return _second_text(ms // 1000)


@lru_cache(maxsize=4096)
def _second_text(second: int) -> str:
    """Local time of a whole second (a trade's notifications mostly name the current one)."""
    return datetime.fromtimestamp(second, tz=UTC).astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


def trade_params(trade: Row) -> dict[str, str]:
    """The fields of a trade that notifications and gateway queries share (amounts in yuan)."""
    return {
        "trade_no": trade["id"] or "",
        "out_trade_no": trade["out_trade_no"],
        "trade_status": trade["status"],
        "total_amount": fen_to_yuan(trade["total_amount_fen"]),
        "receipt_amount": fen_to_yuan(trade["total_amount_fen"] - trade["refunded_fen"])
        if trade["paid_at_ms"]
        else "0.00",
        "refund_fee": fen_to_yuan(trade["refunded_fen"]),
        "subject": trade["subject"],
        "buyer_id": trade["buyer_id"] or "",
        "seller_id": trade["merchant_id"],
        "gmt_create": ms_to_text(trade["created_at_ms"]),
        "gmt_payment": ms_to_text(trade["paid_at_ms"]),
        "gmt_close": ms_to_text(trade["ended_at_ms"]),
    }


def enqueue(ctx: WriteContext, trade: Row, event: str, extra: dict[str, Any] | None = None) -> str:
    """Queue a notification of ``trade``'s new state, in the caller's command (if the trade came
    through an app with a ``notify_url``). Returns the task id or ''."""
    if not trade["notify_url"] or not trade["app_id"]:
        return ""
    task_id = new_id(bucket_of(trade["id"]))
    now = clock.now_ms()
    params = {
        **trade_params(trade),
        "notify_id": task_id,
        "notify_type": "trade_status_sync",
        "app_id": trade["app_id"],
        "charset": "utf-8",
        "version": "1.0",
    }
    if extra:
        if "refund_amount_fen" in extra:
            params["refund_amount"] = fen_to_yuan(extra["refund_amount_fen"])
        if "out_biz_no" in extra:
            params["out_biz_no"] = extra["out_biz_no"]
    ctx.tx.execute(
        "INSERT INTO notify_tasks (id, trade_id, merchant_id, app_id, notify_url, event, params,"
        " status, attempts, next_at_ms, last_result, created_at_ms, updated_at_ms) VALUES (:id,"
        " :t, :m, :app, :url, :e, :p, 'PENDING', 0, :now, '', :now, :now)",
        {
            "id": task_id,
            "t": trade["id"],
            "m": trade["merchant_id"],
            "app": trade["app_id"],
            "url": trade["notify_url"],
            "e": event,
            "p": json.dumps(params, ensure_ascii=False),
            "now": now,
        },
    )
    return task_id


def signed_form(p: Platform, task: Row) -> dict[str, str]:
    app = apps.get_app(p, task["app_id"])
    form = {
        **json.loads(task["params"]),
        "notify_time": ms_to_text(clock.now_ms()),
        "sign_type": "RSA2",
    }
    text = signing.content_to_sign(form, exclude=("sign", "sign_type"))
    form["sign"] = signing.sign_text(apps.platform_private_key(p, app), text)
    return form


def _post(
    p: Platform, client: httpx.Client, url: str, form: dict[str, str]
) -> tuple[bool, int | None, str]:
    """One delivery through ``outbound.post_form``: the target is checked again (public
    addresses only, outside the sandbox), pinned to the checked address, with timeouts and
    checked redirects."""
    answer = outbound.post_form(p.settings, client, url, form)
    body = answer.body.strip()
    ok = answer.ok and body == SUCCESS_BODY
    return ok, answer.status, body[:200] or "(empty body)"


def _guarded_post(
    p: Platform, client: httpx.Client, task: Row
) -> tuple[bool, int | None, str] | None:
    """``_post`` behind the breaker of the merchant's host (``webhook.<host>``, ADR 0941): a
    merchant that keeps failing is skipped (None) until its breaker lets a probe through, so
    one dead endpoint cannot spend every run's time on timeouts."""
    try:
        host = httpx.URL(task["notify_url"]).host or "unknown"
    except httpx.InvalidURL:
        host = "invalid"  # post_form refuses it and records why
    breaker = p.breakers.get(f"webhook.{host}", p.settings.outbound_timeout_s + 1)
    try:
        return breaker.call(
            lambda: _post(p, client, task["notify_url"], signed_form(p, task)),
            failed=lambda answer: not answer[0],
        )
    except DependencyUnavailable:
        return None
    except CallTimedOut as exc:
        return False, None, str(exc)[:200]


def deliver_due(
    p: Platform, limit: int = DELIVER_BATCH_MAX, client: httpx.Client | None = None
) -> dict[str, int]:
    """Send every PENDING notification whose time has come; returns counts. While the
    ``notify.defer`` switch is on nothing is sent: the tasks wait, due, for the first run after."""
    now = clock.now_ms()
    counts = {"delivered": 0, "failed": 0}
    if p.controls.switch_on(NOTIFY_DEFER):
        return counts
    due = [(unit, task) for unit, db in p.owned_dbs() for task in _due(db, now, limit)]
    if not due:
        return counts  # no client made: its TLS context costs milliseconds of CPU
    http = client or httpx.Client(timeout=outbound.timeouts(p.settings), follow_redirects=False)
    try:
        for unit, task in due:
            answer = _guarded_post(p, http, task)
            if answer is None:
                continue  # its merchant's breaker is open: the task waits, due
            ok, status, detail = answer
            p.writers[unit].submit(_recorder(task, ok, status, detail))
            counts["delivered" if ok else "failed"] += 1
    finally:
        if client is None:
            http.close()
    return counts


def _due(db: Database, now_ms: int, limit: int) -> list[Row]:
    with db.read() as tx:
        return tx.all(
            "SELECT * FROM notify_tasks WHERE status = 'PENDING'"
            " AND next_at_ms <= :now ORDER BY next_at_ms LIMIT :l",
            {"now": now_ms, "l": limit},
        )


def _recorder(task: Row, ok: bool, http_status: int | None, detail: str) -> Any:
    return lambda ctx: _record(ctx, task, ok, http_status, detail)


def _after_attempt(task: Row, ok: bool, attempt: int, now_ms: int) -> tuple[str, int]:
    """The task's next status and due time after its ``attempt``-th try (pure)."""
    if ok:
        return DELIVERED, task["next_at_ms"]
    if attempt >= MAX_ATTEMPTS:
        return GAVE_UP, task["next_at_ms"]
    return PENDING, now_ms + RETRY_SCHEDULE_S[attempt - 1] * 1000


def _record(ctx: WriteContext, task: Row, ok: bool, http_status: int | None, detail: str) -> None:
    tx = ctx.tx
    now = clock.now_ms()
    attempt = task["attempts"] + 1
    status, next_at = _after_attempt(task, ok, attempt, now)
    try:
        NOTIFY_TASK.move(
            tx,
            task["id"],
            task["status"],
            status,
            attempts=attempt,
            next_at_ms=next_at,
            last_result=detail,
        )
    except Conflict as exc:  # the task moved on meanwhile: the attempt is still logged
        if exc.code != "CONCURRENT_UPDATE":
            raise
    tx.execute(
        "INSERT INTO notify_attempts (task_id, attempt, at_ms, http_status, outcome, detail)"
        " VALUES (:t, :a, :now, :hs, :o, :d)",
        {
            "t": task["id"],
            "a": attempt,
            "now": now,
            "hs": http_status,
            "o": "SUCCESS" if ok else "FAILED",
            "d": detail,
        },
    )


# --- the operator's view --------------------------------------------------------------------------
def list_tasks(
    p: Platform,
    *,
    merchant_id: str | None = None,
    trade_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Row]:
    where: list[str] = ["1 = 1"]
    args: dict[str, Any] = {"l": limit}
    for col, value in (("merchant_id", merchant_id), ("trade_id", trade_id), ("status", status)):
        if value:
            where.append(f"{col} = :{col}")
            args[col] = value
    dbs = [p.db_for(trade_id)] if trade_id else p.units
    rows: list[Row] = []
    for db in dbs:
        with db.read() as tx:
            rows += [
                dict(r)
                for r in tx.all(
                    f"SELECT * FROM notify_tasks WHERE {' AND '.join(where)}"
                    " ORDER BY created_at_ms DESC LIMIT :l",
                    args,
                )
            ]
    return sorted(rows, key=lambda r: r["created_at_ms"], reverse=True)[:limit]


def attempts(p: Platform, task_id: str) -> list[Row]:
    with p.db_for(task_id).read() as tx:
        return [
            dict(r)
            for r in tx.all(
                "SELECT * FROM notify_attempts WHERE task_id = :t ORDER BY attempt", {"t": task_id}
            )
        ]


def _task(tx: Tx, task_id: str) -> Row:
    row = tx.one("SELECT * FROM notify_tasks WHERE id = :id", {"id": task_id})
    if row is None:
        raise NotifyNotFound("no such notification")
    return dict(row)


@dataclass(frozen=True, slots=True)
class ResendNotify:
    """A notification due again now. A command as data (its own ``__call__`` is its handler)."""

    task_id: str

    def __call__(self, ctx: WriteContext) -> Row:
        task = _task(ctx.tx, self.task_id)
        NOTIFY_TASK.move(ctx.tx, self.task_id, task["status"], PENDING, next_at_ms=clock.now_ms())
        return _task(ctx.tx, self.task_id)


def resend(p: Platform, task_id: str) -> Row:
    """An operator sends a notification again now (also after it gave up or was delivered)."""
    return p.writer_for(task_id).submit(ResendNotify(task_id))
