"""The wallet where step-up codes are on (production): logging in from a new browser asks for the
SMS code on the login form (a known browser is not asked again); binding a card: the page says
STEP_UP_REQUIRED and
asks for the SMS code; a wrong code is refused, the right one grants the action once, and the
form sent again binds the card."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from qianbao.bootstrap import open_platform
from qianbao.members import service as members
from qianbao.members.identity import make_card_no, make_id_number
from qianbao.notices import delivery
from qianbao.notices import service as notices
from qianbao.platform.runtime import Platform
from qianbao.server import build_app
from tests.conftest import fast_settings
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, page_csrf
from tests.wallet.helpers import hidden, phone_of, post_form


@pytest.fixture
def p(tmp_path) -> Iterator[Platform]:
    platform = open_platform(fast_settings(tmp_path, step_up_codes="true"))
    try:
        yield platform
    finally:
        platform.close()


def _sms(p: Platform, user: str) -> str:
    delivery.deliver_due(p)
    body = notices.delivery_log(p, user, "otp", reveal=True)[-1]["body"]  # the phone's view
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def _log_in_new_device(p: Platform, user: str) -> tuple[TestClient, str]:
    """The wallet's login from a browser the platform does not know: the form asks for the SMS
    code, then logs in and remembers the browser (``qb_device``)."""
    client = TestClient(build_app(p))
    token = page_csrf(client, "/wallet")
    form = {"csrf_token": token, "phone": phone_of(p, user), "password": LOGIN_PASSWORD}
    asked = client.post("/wallet/login", data=form | {"next": "/wallet"})
    assert 'id="login-code"' in asked.text and 'id="available"' not in asked.text
    challenge = hidden(asked.text, "challenge_id")
    answer = {"challenge_id": challenge, "code": _sms(p, user), "next": "/wallet"}
    done = client.post("/wallet/login", data=form | answer)
    assert 'id="available"' in done.text and client.cookies.get("qb_device")
    again = TestClient(build_app(p), cookies={"qb_device": client.cookies["qb_device"]})
    token_again = page_csrf(again, "/wallet")
    known = again.post("/wallet/login", data=form | {"csrf_token": token_again, "next": "/wallet"})
    assert 'id="available"' in known.text  # a known browser: no code this time
    return client, token


def test_binding_a_card_asks_for_the_phones_code_on_the_page(p):
    new = members.NewUser(
        "绑卡用户",
        make_id_number("110101", date(1988, 8, 8), 88),
        "13700000088",
        LOGIN_PASSWORD,
        PAY_PASSWORD,
    )
    user = str(members.register_user(p, new)["id"])
    client, token = _log_in_new_device(p, user)
    card = make_card_no("622588800000001")
    asked = post_form(client, token, "/wallet/cards", card_no=card)
    assert asked.status_code == 403 and "STEP_UP_REQUIRED" in asked.text
    challenge = hidden(asked.text, "challenge_id")
    code = _sms(p, user)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = post_form(client, token, "/wallet/step-up", challenge_id=challenge, code=wrong)
    assert 400 <= refused.status_code < 500 and members.list_cards(p, user) == []
    granted = post_form(client, token, "/wallet/step-up", challenge_id=challenge, code=code)
    assert granted.status_code == 200 and 'id="notice"' in granted.text
    bound = post_form(client, token, "/wallet/cards", card_no=card)
    assert bound.status_code == 200 and 'id="notice"' in bound.text
    assert len(members.list_cards(p, user)) == 1
