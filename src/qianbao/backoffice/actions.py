"""The actions that run only on approval (maker-checker), registered by kind. Each checks its
parameters again when it runs (the world may have changed since it was proposed); each is
safe against a repeat (the trade is compensated once, a BANK_ONLY line is booked once, a payout
is re-driven only while unpaid, a line set twice is the same line)."""

from __future__ import annotations

from datetime import date
from typing import Any

from qianbao.backoffice import adjustments, approvals
from qianbao.channels import resolve as fixes
from qianbao.credit import lines as credit_lines
from qianbao.payments import secured
from qianbao.platform.runtime import Platform


def compensation(p: Platform, maker_id: str, params: dict[str, Any]) -> dict[str, Any]:
    row = secured.compensate(
        p, maker_id, str(params["trade_id"]), int(params["amount_fen"]), str(params["reason"])
    )
    return dict(row)


def suspense(p: Platform, maker_id: str, params: dict[str, Any]) -> dict[str, Any]:
    day = date.fromisoformat(str(params["day"]))
    return fixes.adopt_bank_only(p, str(params["channel"]), day, str(params["request_id"]))


def redrive(p: Platform, maker_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return fixes.redrive_payout(p, str(params["channel"]), str(params["request_id"]))


def credit_line(p: Platform, maker_id: str, params: dict[str, Any]) -> dict[str, Any]:
    row = credit_lines.operator_set_line(
        p, maker_id, str(params["user_id"]), int(params["line_fen"]), str(params["reason"])
    )
    return dict(row)


def adjustment(p: Platform, maker_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return adjustments.adjust(
        p,
        maker_id,
        str(params["user_id"]),
        int(params["amount_fen"]),
        str(params["reason"]),
        str(params["request_id"]),
    )


def register_all() -> None:
    approvals.register("compensation", compensation)
    approvals.register("suspense", suspense)
    approvals.register("redrive", redrive)
    approvals.register("credit_line", credit_line)
    approvals.register("adjustment", adjustment)
