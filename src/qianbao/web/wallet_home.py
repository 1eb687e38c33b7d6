"""The wallet's home (``/wallet``: balance, the menu, recent activity) and the statement
(``/wallet/statement``: filters by date, direction and kind, pages, and the same lines as CSV at
``/wallet/statement.csv``). Reads only: the lines are the ledger's postings of the wallet
account (``ledger.service.statement_search``), with the balance after each."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from qianbao.api.deps import PlatformDep
from qianbao.api.errors import DayInvalid
from qianbao.api.security import csrf_guard
from qianbao.ledger import service as ledger
from qianbao.ledger.chart import user_account
from qianbao.members import service as members
from qianbao.members import stepup
from qianbao.payments import queries as wallet_reads
from qianbao.payments import service as payments
from qianbao.platform.clock import start_of_day_ms
from qianbao.platform.errors import InvalidArgument, QianbaoError
from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform
from qianbao.web.wallet_shell import UserCookie, refused, render, wallet_user, when

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])
PAGE_LINES = 20
CSV_MAX_LINES = 5000
RECENT_LINES = 5
DIRECTIONS = {"": 0, "in": 1, "out": -1}
Text = Annotated[str, Query(max_length=40)]


@dataclass(frozen=True)
class StatementQuery:
    """The statement's filters as the form gives them (text), checked once here."""

    since: str = ""
    until: str = ""
    direction: str = ""
    kind: str = ""
    page: str = "1"

    def filter(self) -> ledger.StatementFilter:
        if self.direction not in DIRECTIONS:
            raise InvalidArgument("direction must be in, out or empty")
        since, until = _day(self.since, "since"), _day(self.until, "until")
        if since and until and until < since:
            raise DayInvalid("the end date is before the start date")
        return ledger.StatementFilter(
            since_ms=start_of_day_ms(since) if since else 0,
            until_ms=start_of_day_ms(until + timedelta(days=1)) if until else 2**62,
            sign=DIRECTIONS[self.direction],
            kind=self.kind.strip(),
        )

    def page_no(self) -> int:
        if not self.page.isascii() or not self.page.isdigit() or not 1 <= int(self.page) <= 10**6:
            raise InvalidArgument("page must be a whole number from 1")
        return int(self.page)

    def link(self, **change: Any) -> str:
        """This query's URL parameters with ``change`` applied (empty ones left out)."""
        values = {**self.__dict__, **change}
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DayInvalid(f"{name} must be a date like 2026-01-31") from None


def _lines(p: Platform, user_id: str, q: StatementQuery, limit: int, offset: int) -> list[Any]:
    account = user_account(user_id)
    return ledger.statement_search(p.db_for(user_id), account, q.filter(), limit, offset)


@router.get("/wallet", response_class=HTMLResponse)
def wallet_home(request: Request, p: PlatformDep, qb_user: UserCookie = None) -> Response:
    user_id = wallet_user(p, qb_user, "/wallet")
    pending = [o for o in wallet_reads.bank_orders_of(p, user_id, 20) if o["status"] == "PENDING"]
    return render(
        request,
        "wallet_home.html",
        me=members.public_user(members.get_user(p, user_id)),
        balance=payments.balance(p, user_id),
        recent=_lines(p, user_id, StatementQuery(), RECENT_LINES, 0),
        pending=pending,
    )


@router.get("/wallet/statement", response_class=HTMLResponse)
def statement_page(
    request: Request,
    p: PlatformDep,
    since: Text = "",
    until: Text = "",
    direction: Text = "",
    kind: Text = "",
    page: Text = "1",
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, "/wallet/statement")
    q = StatementQuery(since, until, direction, kind, page)
    try:
        page_no = q.page_no()
        rows = _lines(p, user_id, q, PAGE_LINES + 1, (page_no - 1) * PAGE_LINES)
    except QianbaoError as exc:
        return refused(request, exc, back="/wallet/statement")
    return render(
        request,
        "wallet_statement.html",
        q=q,
        lines=rows[:PAGE_LINES],
        page_no=page_no,
        more=len(rows) > PAGE_LINES,
        kinds=ledger.statement_kinds(p.db_for(user_id), user_account(user_id)),
    )


def statement_csv_text(lines: list[dict[str, Any]]) -> str:
    """The statement as CSV: a header row, then one row a posting; money in yuan with two
    decimals and in fen, signed as the holder sees it (+ in, - out)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["time", "kind", "ref", "memo", "amount_yuan", "amount_fen", "balance_yuan", "balance_fen"]
    )
    for line in lines:
        amount, after = line["amount_fen"], line["balance_after_fen"]
        writer.writerow(
            [when(line["created_at_ms"]), line["kind"], line["ref"], line["memo"] or ""]
            + [fen_to_yuan(amount), amount, fen_to_yuan(after), after]
        )
    return out.getvalue()


@router.get("/wallet/statement.csv", response_model=None)
def statement_csv(
    request: Request,
    p: PlatformDep,
    since: Text = "",
    until: Text = "",
    direction: Text = "",
    kind: Text = "",
    qb_user: UserCookie = None,
) -> Response:
    user_id = wallet_user(p, qb_user, "/wallet/statement")
    q = StatementQuery(since, until, direction, kind)
    try:
        rows = _lines(p, user_id, q, CSV_MAX_LINES, 0)
    except QianbaoError as exc:
        return refused(request, exc, back="/wallet/statement")
    name = f"qianbao-statement-{since or 'start'}-{until or 'now'}.csv"
    return Response(
        "\ufeff" + statement_csv_text(rows),  # a BOM: spreadsheets then read the Chinese right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/wallet/step-up", response_class=HTMLResponse)
def step_up(
    request: Request,
    p: PlatformDep,
    challenge_id: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=8)],
    back: Annotated[str, Form(max_length=200)] = "/wallet",
    qb_user: UserCookie = None,
) -> Response:
    """Answer a STEP_UP_REQUIRED challenge a wallet form met (the SMS code): the action it was
    for is then granted once, and the form can be sent again."""
    back = back if back.startswith("/wallet") else "/wallet"
    user_id = wallet_user(p, qb_user, back)
    try:
        stepup.grant(p, user_id, challenge_id, code.strip())
    except QianbaoError as exc:
        return refused(request, exc, back=back)
    notice = "已验证，请再提交一次 Verified: send the form again"
    return render(request, "wallet_result.html", ok=True, notice=notice, back=back)
