"""Huabei's customer notices: the bill when it is cut, the due-date reminders, and the overdue
reminders of ``credit_reminders`` (lawful collection: the notification service sends them only
08:00-21:00 and at most one a user a day). Each is sent inside the command that decides it, so
it exists if and only if that command committed, under a dedupe key that makes a re-run of a day
send nothing twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from qianbao.credit import store
from qianbao.credit.model.statement import StatementDraft, statement_owed
from qianbao.notices import service as notices
from qianbao.platform.writer import WriteContext

DUE_REMINDER_DAYS = (3, 1)  # days before the deadline the evening's reminder is written for


def notify_bill(ctx: WriteContext, user_id: str, statement_id: str, draft: StatementDraft) -> None:
    """出账通知: a bill with something to repay."""
    if not draft.owed_fen:
        return
    params = {
        "month": draft.bill_date.strftime("%Y-%m"),
        "amount_fen": draft.owed_fen,
        "minimum_fen": draft.minimum_fen,
        "due_date": draft.due_date.isoformat(),
    }
    notices.send(ctx, user_id, "huabei_bill_issued", params, dedupe_key=f"bill:{statement_id}")


def notify_overdue(ctx: WriteContext, reminders: Sequence[Mapping[str, Any]]) -> None:
    """The overdue reminders written for tomorrow (one per user and day in credit_reminders)."""
    for row in reminders:
        params = {"amount_fen": int(row["overdue_fen"]), "days_past_due": str(row["days_past_due"])}
        key = f"overdue:{row['day']}"
        notices.send(ctx, row["user_id"], "huabei_overdue_reminder", params, dedupe_key=key)


def notify_due_soon(ctx: WriteContext, day: date) -> int:
    """At the end of ``day``: every unpaid bill whose deadline is in DUE_REMINDER_DAYS days."""
    sent = 0
    deadlines = [(day + timedelta(days=n)).isoformat() for n in DUE_REMINDER_DAYS]
    for st in store.unpaid_statements_with_deadline(ctx.tx, deadlines):
        owed = statement_owed(st)
        if not owed:
            continue
        params = {"amount_fen": owed, "due_date": st["deadline"]}
        key = f"due:{st['id']}:{st['deadline']}:{day.isoformat()}"
        notices.send(ctx, st["user_id"], "huabei_due_reminder", params, dedupe_key=key)
        sent += 1
    return sent
