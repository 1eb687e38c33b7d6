"""A logged-in wallet client over the whole app (TestClient: real HTTP handling, real SQLite)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from qianbao.members import service as members
from qianbao.platform.runtime import Platform
from qianbao.server import build_app
from tests.factories import LOGIN_PASSWORD, page_csrf


def phone_of(p: Platform, user_id: str) -> str:
    return str(members.get_user(p, user_id)["phone"])


def logged_in(p: Platform, user_id: str) -> tuple[TestClient, str]:
    """A client signed in to the wallet as ``user_id``, and its CSRF token."""
    client = TestClient(build_app(p))
    token = page_csrf(client, "/wallet")
    form = {"csrf_token": token, "phone": phone_of(p, user_id), "password": LOGIN_PASSWORD}
    answer = client.post("/wallet/login", data=form | {"next": "/wallet"})
    assert answer.status_code == 200 and 'id="available"' in answer.text, answer.text
    return client, token


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name}"
    return found.group(1)


def post_form(client: TestClient, token: str, path: str, **fields: Any) -> Any:
    return client.post(path, data={"csrf_token": token, **fields}, follow_redirects=True)
