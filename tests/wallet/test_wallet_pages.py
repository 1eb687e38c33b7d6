"""The wallet's pages over HTTP (TestClient): bad input is a 4xx page with the error code that
changes nothing, someone else's trade does not exist, a page without login is the login form,
a repeated form pays once, a pending bank order shows as pending."""

from __future__ import annotations

import pytest

from qianbao.payments import trades
from qianbao.platform.money import fen_to_yuan
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, card_of, new_user
from tests.trades.helpers import balance, new_merchant
from tests.wallet.helpers import hidden, logged_in, phone_of, post_form

GET_PAGES = [
    "/wallet",
    "/wallet/statement",
    "/wallet/statement.csv",
    "/wallet/cards",
    "/wallet/transfer",
    "/wallet/pay",
    "/wallet/pay-code",
    "/wallet/trades",
    "/wallet/trades/123",
    "/wallet/bank-orders/123",
]


def test_every_page_without_login_is_the_login_form_and_says_nothing(sqlite_platform):
    from fastapi.testclient import TestClient

    from qianbao.server import build_app

    client = TestClient(build_app(sqlite_platform))
    for path in GET_PAGES:
        answer = client.get(path)
        assert answer.status_code == 200 and 'id="login"' in answer.text, path
        assert 'id="wallet-menu"' not in answer.text and "¥" not in answer.text, path
    posted = client.post("/wallet/transfer", data={"amount": "1"})
    assert posted.status_code == 403  # no CSRF token: refused before anything else


def test_bad_input_is_a_4xx_with_its_code_and_moves_nothing(sqlite_platform):
    p = sqlite_platform
    user, other = new_user(p, balance_fen=100_00), new_user(p)
    client, token = logged_in(p, user)
    form = {"request_id": "r-bad", "pay_password": PAY_PASSWORD, "to_phone": phone_of(p, other)}
    cases = [
        ("/wallet/transfer", form | {"amount": "abc"}, "INVALID_ARGUMENT"),
        ("/wallet/transfer", form | {"amount": "-5"}, ""),
        ("/wallet/transfer", form | {"amount": "1.234"}, "INVALID_ARGUMENT"),
        ("/wallet/transfer", form | {"amount": "500.00"}, "BALANCE_NOT_ENOUGH"),
        ("/wallet/transfer", form | {"amount": "1", "to_phone": "19999999999"}, ""),
        ("/wallet/transfer", form | {"amount": "1", "pay_password": "000000"}, ""),
        ("/wallet/pay", {"amount": "1", "request_id": "r2", "pay_password": PAY_PASSWORD}, ""),
        (
            "/wallet/pay",
            {"amount": "1", "request_id": "r3", "qr": "http://x/evil", "pay_password": "1"},
            "",
        ),
        ("/wallet/topup", {"card_id": "nope", "amount": "1", "request_id": "r4"}, ""),
        (
            "/wallet/withdraw",
            {
                "card_id": card_of(p, user),
                "amount": "x",
                "request_id": "r5",
                "pay_password": PAY_PASSWORD,
            },
            "",
        ),
        ("/wallet/cards", {"card_no": "1234"}, "CARD_INVALID"),
    ]
    for path, fields, code in cases:
        answer = post_form(client, token, path, **fields)
        assert 400 <= answer.status_code < 500, (path, fields, answer.status_code)
        assert 'id="error-code"' in answer.text, (path, fields)
        assert code in answer.text, (path, fields, answer.text)
    for query in ("since=2026-13-01", "until=x", "direction=sideways", "page=0", "page=x"):
        assert client.get(f"/wallet/statement?{query}").status_code == 400, query
        if not query.startswith("page"):  # the CSV has every line: no pages
            assert client.get(f"/wallet/statement.csv?{query}").status_code == 400, query
    assert client.get("/wallet/statement?since=2026-02-01&until=2026-01-01").status_code == 400
    assert client.get("/wallet/pay?qr=http://x/other/path").status_code == 400
    assert client.get("/wallet/pay?qr=" + "a" * 20).status_code == 404  # no such merchant
    assert balance(p, user) == 100_00 and balance(p, other) == 0
    assert_ledger_clean(p)


def test_someone_elses_trade_is_not_found_and_cannot_be_disputed(sqlite_platform):
    p = sqlite_platform
    merchant = new_merchant(p)
    buyer, stranger = new_user(p, balance_fen=50_00), new_user(p)
    trade = trades.pay_static_qr(p, merchant, buyer, 10_00, PAY_PASSWORD, "qr-1")
    client, token = logged_in(p, stranger)
    assert client.get(f"/wallet/trades/{trade['id']}").status_code == 404
    answer = post_form(client, token, f"/wallet/trades/{trade['id']}/refund-request")
    assert answer.status_code == 404 and "TRADE_NOT_EXIST" in answer.text
    answer = post_form(
        client, token, f"/wallet/trades/{trade['id']}/confirm", pay_password=PAY_PASSWORD
    )
    assert answer.status_code == 404
    assert client.get("/wallet/trades/not-an-id").status_code == 404
    owner, owner_token = logged_in(p, buyer)
    mine = owner.get(f"/wallet/trades/{trade['id']}")
    assert mine.status_code == 200 and "TRADE_SUCCESS" in mine.text
    assert 'id="refund-note"' in mine.text  # instant: the merchant refunds, no button
    answer = post_form(owner, owner_token, f"/wallet/trades/{trade['id']}/refund-request")
    assert answer.status_code == 409 or answer.status_code == 400  # not a secured trade
    assert trades.get_trade(p, trade["id"])["status"] == "TRADE_SUCCESS"


def test_a_form_sent_twice_pays_once_and_pay_by_qr_link(sqlite_platform):
    p = sqlite_platform
    merchant = new_merchant(p)
    user, friend = new_user(p, balance_fen=100_00), new_user(p)
    client, token = logged_in(p, user)
    request_id = hidden(client.get("/wallet/transfer").text, "request_id")
    form = {"to_phone": phone_of(p, friend), "amount": "12.34", "pay_password": PAY_PASSWORD}
    first = post_form(client, token, "/wallet/transfer", request_id=request_id, **form)
    again = post_form(client, token, "/wallet/transfer", request_id=request_id, **form)
    assert first.status_code == again.status_code == 200, first.text
    assert hidden_id(first.text) == hidden_id(again.text)
    p.relay.drain()  # across units the credit is booked when its message arrives
    assert balance(p, user) == 100_00 - 12_34 and balance(p, friend) == 12_34
    link = f"http://127.0.0.1:8000/cashier/m/{merchant}"
    request_id = hidden(client.get("/wallet/pay", params={"qr": link}).text, "request_id")
    pay = {"qr": link, "amount": "5.00", "pay_password": PAY_PASSWORD, "request_id": request_id}
    paid = post_form(client, token, "/wallet/pay", **pay)
    assert paid.status_code == 200 and "TRADE_SUCCESS" in paid.text
    assert post_form(client, token, "/wallet/pay", **pay).status_code == 200
    assert balance(p, user) == 100_00 - 12_34 - 5_00
    assert len(trades.list_buyer_trades(p, user)) == 1
    assert_ledger_clean(p)


def hidden_id(html: str) -> str:
    import re

    found = re.search(r'id="transfer-id">([^<]+)<', html)
    assert found, html
    return found.group(1)


def test_a_top_up_the_bank_has_not_answered_is_shown_pending(sqlite_platform):
    p = sqlite_platform
    user = new_user(p, balance_fen=10_00)
    client, token = logged_in(p, user)
    bank = p.channels["SIMBANK"]
    bank.timeout_rate = 1.0
    try:
        request_id = hidden(client.get("/wallet/cards").text, "request_id")
        fields = {"card_id": card_of(p, user), "amount": "30.00", "request_id": request_id}
        fields["csrf_token"] = token
        answer = client.post("/wallet/topup", data=fields, follow_redirects=False)
    finally:
        bank.timeout_rate = 0.0
    assert answer.status_code == 303
    home = client.get("/wallet").text
    assert 'id="pending"' in home and "30.00" in home
    assert 'class="pending"' in client.get("/wallet/cards").text
    assert balance(p, user) == 10_00
    settled = client.get(answer.headers["location"])  # asks the bank again: now it answers
    assert 'id="status">PENDING<' not in settled.text
    status = "SUCCEEDED" if balance(p, user) == 40_00 else "FAILED"
    assert f'id="status">{status}<' in settled.text
    assert 'id="pending"' not in client.get("/wallet").text
    assert_ledger_clean(p)


@pytest.mark.parametrize("direction,shown", [("in", 2), ("out", 1), ("", 3)])
def test_the_statement_filters_by_direction_and_the_csv_agrees(sqlite_platform, direction, shown):
    p = sqlite_platform
    user, friend = new_user(p, balance_fen=80_00), new_user(p, balance_fen=1_00)
    from qianbao.payments import service as payments

    payments.transfer(p, user, friend, 7_05, "t-1", PAY_PASSWORD)
    payments.transfer(p, friend, user, 1_00, "t-2", PAY_PASSWORD)
    p.relay.drain()  # a credit across units is booked when its message arrives
    client, _ = logged_in(p, user)
    page = client.get("/wallet/statement", params={"direction": direction})
    assert page.text.count('class="line"') == shown
    csv = client.get("/wallet/statement.csv", params={"direction": direction})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"].startswith('attachment; filename="qianbao-statement')
    rows = csv.text.lstrip("\ufeff").strip().split("\r\n")
    assert rows[0].startswith("time,kind,ref,memo,amount_yuan,amount_fen")
    assert len(rows) == 1 + shown
    if direction == "out":
        assert rows[1].endswith(f"-{fen_to_yuan(7_05)},-705,{fen_to_yuan(72_95)},7295")
