"""The one page login (``api/page_login.py``) on every page that signs a user in: the wallet,
the cashier and Yu'e Bao. With step-up codes on (production), a new browser is asked for the SMS
code on the page's own form, the code signs in and the browser is remembered (``qb_device``), a
known browser is not asked again; a wrong code is a 4xx page that signs nobody in; and one
address trying many phones is throttled on every page alike."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qianbao.bootstrap import open_platform
from qianbao.members import service as members
from qianbao.members.identity import make_id_number
from qianbao.notices import delivery
from qianbao.notices import service as notices
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings
from qianbao.server import build_app
from tests.conftest import fast_settings
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, page_csrf
from tests.wallet.helpers import hidden

# page: (where its login form is shown, where it posts, the extra fields it sends, where it goes)
PAGES = {
    "wallet": ("/wallet", "/wallet/login", {"next": "/wallet"}, "/wallet"),
    "cashier": ("/cashier/t/0", "/cashier/login", {"next": "/cashier/t/0"}, "/cashier/t/0"),
    "yuebao": ("/wallet/yuebao", "/wallet/yuebao/login", {}, "/wallet/yuebao"),
}


@pytest.fixture(scope="module")
def p(tmp_path_factory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("page-login")
    platform = open_platform(fast_settings_on(data_dir))
    try:
        yield platform
    finally:
        platform.close()


def fast_settings_on(data_dir: Path) -> Settings:  # step-up on; an address has 3 free failures
    return fast_settings(data_dir, step_up_codes="true", login_ip_free_failures=3)


_serial = itertools.count(1)


def _user(p: Platform) -> tuple[str, str]:
    """A registered user (no card: binding one would ask for a code too) and their phone."""
    n = next(_serial)
    phone = f"1371234{n:04d}"
    born = make_id_number("110101", date(1990, 1, 1), n)
    new = members.NewUser("登录用户", born, phone, LOGIN_PASSWORD, PAY_PASSWORD)
    return str(members.register_user(p, new)["id"]), phone


def _sms(p: Platform, user: str) -> str:
    delivery.deliver_due(p)
    body = notices.delivery_log(p, user, "otp", reveal=True)[-1]["body"]  # the phone's view
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def _browser(p: Platform, page: str, **cookies: str) -> tuple[TestClient, dict[str, str]]:
    """A browser on ``page`` and the login form's fields (its CSRF token and extras)."""
    client = TestClient(build_app(p), cookies=cookies, follow_redirects=False)
    shown, _, extra, _ = PAGES[page]
    return client, {"csrf_token": page_csrf(client, shown), **extra}


def _signed_in_as(p: Platform, client: TestClient) -> str | None:
    token = client.cookies.get("qb_user")
    return members.user_for_token(p, token) if token else None


@pytest.mark.parametrize("page", list(PAGES))
def test_a_new_browser_answers_the_code_and_is_known_next_time(p, page):
    user, phone = _user(p)
    _, action, _, lands = PAGES[page]
    client, form = _browser(p, page)
    form |= {"phone": phone, "password": LOGIN_PASSWORD}
    asked = client.post(action, data=form)
    assert asked.status_code == 200 and 'id="login-code"' in asked.text
    assert "qb_user" not in client.cookies and 'id="error"' in asked.text
    answer = {"challenge_id": hidden(asked.text, "challenge_id"), "code": _sms(p, user)}
    done = client.post(action, data=form | answer)
    assert done.status_code == 303 and done.headers["location"] == lands
    assert _signed_in_as(p, client) == user and client.cookies.get("qb_device")
    for cookie in done.headers.get_list("set-cookie"):
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    again, form_again = _browser(p, page, qb_device=client.cookies["qb_device"])
    known = again.post(action, data=form_again | {"phone": phone, "password": LOGIN_PASSWORD})
    assert known.status_code == 303 and _signed_in_as(p, again) == user  # no code this time


@pytest.mark.parametrize("page", list(PAGES))
def test_a_wrong_code_is_a_4xx_page_and_signs_nobody_in(p, page):
    user, phone = _user(p)
    _, action, _, _ = PAGES[page]
    client, form = _browser(p, page)
    form |= {"phone": phone, "password": LOGIN_PASSWORD}
    asked = client.post(action, data=form)
    code = _sms(p, user)
    wrong_code = f"{(int(code) + 1) % 10**6:06d}"
    wrong = {"challenge_id": hidden(asked.text, "challenge_id"), "code": wrong_code}
    refused = client.post(action, data=form | wrong)
    assert 400 <= refused.status_code < 500 and 'id="error"' in refused.text
    assert "wrong or expired code" in refused.text
    assert not any("qb_user" in c for c in refused.headers.get_list("set-cookie"))
    assert "qb_user" not in client.cookies and "qb_device" not in client.cookies
    bad = client.post(action, data=form | {"phone": "x" * 21})  # too long: a 4xx, not a 500
    assert 400 <= bad.status_code < 500 and "qb_user" not in client.cookies


@pytest.mark.parametrize("page", list(PAGES))
def test_one_address_trying_many_phones_is_throttled(tmp_path, page):
    platform = open_platform(fast_settings_on(tmp_path))
    try:
        _, phone = _user(platform)
        _, action, _, _ = PAGES[page]
        client, form = _browser(platform, page)
        tries = [
            client.post(action, data=form | {"phone": f"139000{i:05d}", "password": "wrong-pass1"})
            for i in range(4)
        ]
        assert [t.status_code for t in tries] == [401, 401, 401, 401]
        throttled = client.post(action, data=form | {"phone": phone, "password": LOGIN_PASSWORD})
        assert throttled.status_code == 429 and 'id="error"' in throttled.text
        assert "qb_user" not in client.cookies
    finally:
        platform.close()
