"""The back office's shell: operator sign-in with an operator key only, the cookie's flags, the
menu per role, and 403 for a role without a page's permission."""

from __future__ import annotations

from fastapi import Request
from fastapi.testclient import TestClient

from qianbao.members import credentials, roles
from qianbao.members import service as members
from qianbao.server import build_app
from qianbao.web import ops_shell
from tests.factories import operator_headers, page_csrf


def _key(p, role: str) -> str:
    return operator_headers(p, role)["Authorization"].removeprefix("Bearer ")


def _sign_in(c: TestClient, key: str, next_page: str = "/ops"):
    csrf = page_csrf(c, "/ops/login")
    data = {"api_key": key, "next": next_page, "csrf_token": csrf}
    return c.post("/ops/login", data=data, follow_redirects=False)


def test_only_an_operator_key_signs_in_and_the_cookie_is_httponly_strict(sqlite_platform):
    p = sqlite_platform
    c = TestClient(build_app(p))
    assert "Operator API key" in c.get("/ops", follow_redirects=False).text  # asked to sign in
    _, merchant_key = members.create_merchant(p, "Not An Operator")
    for wrong in ("ok_wrong.key", merchant_key):
        answer = _sign_in(c, wrong)
        assert answer.status_code == 401 and "not an operator" in answer.text
    answer = _sign_in(c, _key(p, "auditor"), "/ops/risk/cases")
    assert answer.status_code == 303 and answer.headers["location"] == "/ops/risk/cases"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    home = c.get("/ops")
    assert home.status_code == 200 and 'id="ops-nav"' in home.text and "auditor" in home.text


def test_an_outside_next_page_is_not_followed(sqlite_platform):
    c = TestClient(build_app(sqlite_platform))
    answer = _sign_in(c, _key(sqlite_platform, "support"), "https://evil.example/ops")
    assert answer.headers["location"] == "/ops"


def test_a_role_without_the_permission_gets_403(sqlite_platform):
    p = sqlite_platform
    key = credentials.web_session(p, _key(p, "support"), credentials.OPS_WEB)
    op = ops_shell.operator_of(p, key)
    assert op is not None and roles.AUDIT not in roles.permissions(op.role)
    request = Request({"type": "http", "path": "/ops/audit", "headers": [], "query_string": b""})
    request.state.csrf_token = ""
    answer = ops_shell.operator_or_login(request, p, key, roles.AUDIT)
    assert getattr(answer, "status_code", None) == 403
    assert ops_shell.operator_or_login(request, p, key, roles.READ) == op


def test_the_cookie_holds_a_session_not_the_key_and_it_ends(sqlite_platform):
    """The key's secret never goes back to the browser; the session ends with the key's
    revocation or after 8 hours, and a merchant centre session is no back office session."""
    from datetime import timedelta

    from qianbao.platform.clock import clock

    p = sqlite_platform
    key = _key(p, "admin")
    c = TestClient(build_app(p))
    answer = _sign_in(c, key)
    session = c.cookies["qb_operator"]
    assert key.partition(".")[2] not in answer.headers["set-cookie"] and session != key
    assert c.get("/ops").status_code == 200
    c.cookies.set("qb_operator", key)  # the raw key is no session
    assert "Operator API key" in c.get("/ops").text
    merchant_session = credentials.web_session(p, key)  # the merchant centre's MAC
    assert ops_shell.operator_of(p, merchant_session) is None
    assert ops_shell.operator_of(p, session) is not None
    clock.set(clock.now() + timedelta(hours=8, minutes=1))
    assert ops_shell.operator_of(p, session) is None
    clock.use_real_time()
    credentials.revoke_any(p, key.partition(".")[0])
    assert ops_shell.operator_of(p, session) is None
