"""The back office's shell: operator sign-in with an operator key only, the cookie's flags, the
menu per role, and 403 for a role without a page's permission."""

from __future__ import annotations

from fastapi import Request
from fastapi.testclient import TestClient

from qianbao.members import roles
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
    key = _key(p, "support")
    op = ops_shell.operator_of(p, key)
    assert op is not None and roles.AUDIT not in roles.permissions(op.role)
    request = Request({"type": "http", "path": "/ops/audit", "headers": [], "query_string": b""})
    request.state.csrf_token = ""
    answer = ops_shell.operator_or_login(request, p, key, roles.AUDIT)
    assert getattr(answer, "status_code", None) == 403
    assert ops_shell.operator_or_login(request, p, key, roles.READ) == op
