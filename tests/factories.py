"""Builders for members and money used across the test suite (real services, no mocks)."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from qianbao.members import service as members
from qianbao.members.identity import make_card_no, make_id_number
from qianbao.payments import service as payments
from qianbao.platform.runtime import Platform

PAY_PASSWORD = "135790"
LOGIN_PASSWORD = "abc12345"
_seq = itertools.count(1)


def new_user(
    p: Platform,
    *,
    unit: int | None = None,
    name: str = "测试用户",
    balance_fen: int = 0,
    password_free_fen: int = 0,
) -> str:
    """A real-name user with a bound card, topped up through the bank simulator."""
    while True:
        n = next(_seq)
        phone = f"13{n:09d}"
        if unit is None or p.unit_of_bucket(_bucket(phone)) == unit:
            break
    user_id = members.register_user(
        p,
        members.NewUser(
            name,
            make_id_number("110101", date(1970 + n // 1000 % 30, 1 + n % 12, 1 + n % 28), n % 1000),
            phone,
            LOGIN_PASSWORD,
            PAY_PASSWORD,
        ),
    )["id"]
    card_id = members.bind_card(p, user_id, make_card_no(f"6222{n:011d}"))["id"]
    if balance_fen:
        payments.topup(p, user_id, card_id, balance_fen, f"seed-{n}")
    if password_free_fen:
        members.set_password_free_limit(p, user_id, password_free_fen, PAY_PASSWORD)
    return user_id


def card_of(p: Platform, user_id: str) -> str:
    return str(members.list_cards(p, user_id)[0]["id"])


def _bucket(phone: str) -> int:
    from qianbao.platform.ids import bucket_for_key

    return bucket_for_key(phone)


def operator_headers(p: Platform, role: str) -> dict[str, str]:
    """Authorization headers of a new operator with ``role`` (admin or auditor)."""
    _, key = members.create_operator(p, f"{role}-{next(_seq)}", role)
    return {"Authorization": f"Bearer {key}"}


def approve_via(client: Any, proposed: Any, checker: dict[str, str]) -> Any:
    """Maker-checker: a second operator approves what ``proposed`` (a 202 answer) asked for;
    returns the approve answer (the approval with the action's result, or the action's error)."""
    assert proposed.status_code == 202, proposed.text
    approval_id = proposed.json()["approval_id"]
    return client.post(f"/api/v1/ops/approvals/{approval_id}/approve", json={}, headers=checker)


def page_csrf(client: Any, path: str = "/merchant") -> str:
    """The CSRF token a page's forms carry (``api/security.py``), read from the page's HTML as
    a browser would; the GET also sets the ``qb_csrf`` cookie the token belongs to."""
    import re

    html = client.get(path).text
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found, f"no CSRF token on {path}"
    return found.group(1)
