"""Signing in to the back office's pages in tests (TestClient)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from qianbao.platform.runtime import Platform
from qianbao.server import build_app
from tests.factories import operator_headers, page_csrf


def operator_key(p: Platform, role: str) -> str:
    return operator_headers(p, role)["Authorization"].removeprefix("Bearer ")


def signed_in(p: Platform, role: str, app: Any = None) -> tuple[TestClient, str]:
    """A client signed in as a new operator of ``role``, and the CSRF token of its forms."""
    c = TestClient(app or build_app(p))
    csrf = page_csrf(c, "/ops/login")
    answer = c.post("/ops/login", data={"api_key": operator_key(p, role), "csrf_token": csrf})
    assert answer.status_code == 200, answer.text
    return c, csrf
