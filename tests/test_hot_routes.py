"""The hot routes (api/hot.py) answer exactly as FastAPI's own route: every request below goes
to the application with its hot routes and to the same application without them, on the same
platform, and gets the same status, the same headers and the same body (ids and times aside)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from qianbao.api import hot
from qianbao.api.app import create_app
from qianbao.ledger.service import check_platform
from qianbao.members import service as members
from qianbao.members.errors import PayPasswordRequired
from qianbao.platform.metrics import REQUEST_LATENCY
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user

PATH = "/api/v1/payments"
VARIES = {"payment_id", "created_at_ms"}  # each app's own payment


@pytest.fixture
def two(platform, monkeypatch):
    p = platform
    payer = new_user(p, balance_fen=100_000, password_free_fen=5_000)
    merchant, key = members.create_merchant(p, "Hot Shop")
    token, _ = members.login(p, members.get_user(p, payer)["phone"], LOGIN_PASSWORD)
    served: list[str] = []
    answer = hot.HotRoute._answer

    async def counted(self: Any, raw: Any, send: Any) -> None:
        served.append(self.route.path)
        await answer(self, raw, send)

    monkeypatch.setattr(hot.HotRoute, "_answer", counted)
    return {
        "p": p,
        "hot": TestClient(create_app(p)),
        "cold": TestClient(create_app(p, hot_paths=[])),
        "auth": {"Authorization": f"Bearer {token}"},
        "mkey": {"Authorization": f"Bearer {key}"},
        "merchant": merchant["id"],
        "served": served,
    }


def _same(a: Any, b: Any) -> None:
    """The same answer, but for the ids and times of each side's own payment (and each side's
    own request id, ``-hot`` or ``-cold``, in a message)."""
    assert a.status_code == b.status_code, (a.text, b.text)
    headers = []
    for r in (a, b):
        assert int(r.headers["content-length"]) == len(r.content)
        headers.append(
            {k: v for k, v in r.headers.items() if k not in ("x-request-id", "content-length")}
        )
    assert headers[0] == headers[1]
    try:
        bodies = [r.json() for r in (a, b)]
    except json.JSONDecodeError:
        assert a.content == b.content
        return
    if a.status_code == 200:
        bodies = [{k: v for k, v in body.items() if k not in VARIES} for body in bodies]
    assert json.dumps(bodies[0]) == json.dumps(bodies[1]).replace("-cold", "-hot")


def _both(w: dict[str, Any], body: Any, headers: dict[str, str], raw: bytes | None = None):
    answers = []
    for side in ("hot", "cold"):
        sent = body
        if isinstance(body, dict) and "request_id" in body:
            sent = {**body, "request_id": f"{body['request_id']}-{side}"}
        content = raw if raw is not None else json.dumps(sent).encode()
        answers.append(w[side].post(PATH, content=content, headers=headers))
    _same(*answers)
    return answers


def _pay(w: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"merchant_id": w["merchant"], "amount_fen": 100, "request_id": "r1", **fields}


JSON = {"Content-Type": "application/json"}


def test_a_payment_and_its_replay_answer_as_fastapi_does(two):
    w = two
    headers = {**JSON, **w["auth"]}
    first = _both(w, _pay(w, request_id="same"), headers)
    assert first[0].json()["status"] == "SUCCEEDED"
    again = _both(w, _pay(w, request_id="same"), headers)
    assert [r.json()["payment_id"] for r in again] == [r.json()["payment_id"] for r in first]
    reused = _both(w, _pay(w, request_id="same", amount_fen=200), headers)
    assert reused[0].json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    charset = {"Content-Type": "application/json; charset=utf-8", **w["auth"]}
    assert _both(w, _pay(w, request_id="cs"), charset)[0].status_code == 200
    assert w["served"] == [PATH] * 3  # answered hot (the reused key: by the endpoint's error)
    labels = {s.labels.get("route") for m in REQUEST_LATENCY.collect() for s in m.samples}
    assert PATH in labels
    check_platform(w["p"])


def test_an_error_handler_added_later_answers_as_it_does_for_fastapi(two):
    """The access layer adds a sync handler (UNIT_UNAVAILABLE) after the app is built."""
    w = two

    def mine(request: Any, exc: Exception) -> JSONResponse:
        return JSONResponse({"code": "MINE", "message": str(exc)}, status_code=418)

    for side in ("hot", "cold"):
        w[side].app.add_exception_handler(PayPasswordRequired, mine)
    answers = _both(w, _pay(w, amount_fen=90_000), {**JSON, **w["auth"]})
    assert answers[0].status_code == 418 and answers[0].json()["code"] == "MINE"


BAD_BODIES: list[tuple[str, Any]] = [
    ("no amount", {"merchant_id": "m", "request_id": "x"}),
    ("amount as a string", {"merchant_id": "m", "amount_fen": "100", "request_id": "x"}),
    ("a float amount", {"merchant_id": "m", "amount_fen": 1.5, "request_id": "x"}),
    ("an unknown field", {"merchant_id": "m", "amount_fen": 1, "request_id": "x", "z": 1}),
    ("a list", [1, 2]),
    ("null", None),
    ("a long request id", {"merchant_id": "m", "amount_fen": 1, "request_id": "x" * 65}),
    ("unknown funding", {"merchant_id": "m", "amount_fen": 1, "request_id": "x", "funding": "Q"}),
]


@pytest.mark.parametrize("name,body", BAD_BODIES, ids=[n for n, _ in BAD_BODIES])
def test_a_body_that_does_not_validate_gets_fastapis_answer(two, name, body):
    answers = _both(two, body, {**JSON, **two["auth"]})
    assert answers[0].status_code == 422
    assert two["served"] == []


RAW = [
    ("not JSON", b"{amount", JSON),
    ("not UTF-8", b'{"a": "\xff"}', JSON),
    ("empty", b"", JSON),
    ("no content type", b'{"merchant_id": "m", "amount_fen": 1, "request_id": "x"}', {}),
    (
        "text",
        b'{"merchant_id": "m", "amount_fen": 1, "request_id": "x"}',
        {"Content-Type": "text/plain"},
    ),
]


@pytest.mark.parametrize("name,raw,headers", RAW, ids=[n for n, _, _ in RAW])
def test_a_body_that_is_not_json_gets_fastapis_answer(two, name, raw, headers):
    answers = _both(two, None, {**headers, **two["auth"]}, raw=raw)
    assert 400 <= answers[0].status_code < 500
    assert two["served"] == []


def test_credentials_and_refusals_answer_as_fastapi_does(two):
    w = two
    for auth in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer ut_nope"},
        w["mkey"],
    ):
        answers = _both(w, _pay(w), {**JSON, **auth})
        assert answers[0].status_code in (401, 403)
    headers = {**JSON, **w["auth"]}
    refusals = [
        _pay(w, merchant_id="nobody"),
        _pay(w, amount_fen=0),
        _pay(w, amount_fen=-5),
        _pay(w, amount_fen=10**30),
        _pay(w, amount_fen=90_000),  # above the password-free limit
        _pay(w, amount_fen=10**9, pay_password=PAY_PASSWORD),  # more than the balance
        _pay(w, funding="YUEBAO"),
    ]
    for body in refusals:
        answers = _both(w, body, headers)
        assert 400 <= answers[0].status_code < 500, answers[0].text
        assert set(answers[0].json()) >= {"code", "message"}
    wrong = _pay(w, amount_fen=90_000, pay_password="wrong-password")
    codes = [w[s].post(PATH, json=wrong, headers=w["auth"]).json()["code"] for s in ("hot", "cold")]
    assert codes[0] == codes[1] == "WRONG_PAY_PASSWORD"  # (each try counts: "n tries left")
    check_platform(w["p"])
