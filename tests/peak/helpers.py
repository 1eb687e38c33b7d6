"""Shared by the peak tests: a logged-in user's headers over real HTTP."""

from __future__ import annotations

from qianbao.members import service as members
from qianbao.platform.runtime import Platform
from tests.factories import LOGIN_PASSWORD


def user_headers(p: Platform, user_id: str) -> dict[str, str]:
    token, _ = members.login(p, str(members.get_user(p, user_id)["phone"]), LOGIN_PASSWORD)
    return {"Authorization": f"Bearer {token}"}
