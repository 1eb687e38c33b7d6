"""A dead bank (issue 12 item 4): with every bank call timing out, payments from balance keep
working, card top-ups fail fast with 503 BANK_UNAVAILABLE once the breaker opens, no request
waits longer than its timeout, and when the bank is back the follow-up job resolves every
pending order (the ledger still sums to zero; a repeated request changes nothing)."""

from __future__ import annotations

import time

import httpx

from qianbao.payments import service as payments
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, card_of, new_user, operator_headers
from tests.peak.conftest import BANK_TIMEOUT_S
from tests.peak.helpers import user_headers

SLACK_S = 1.5  # a loaded 2-core machine; the point is "bounded", not the exact figure


def _timed(method: str, url: str, **kw: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = httpx.request(method, url, timeout=30, **kw)  # type: ignore[arg-type]
    return answer, time.monotonic() - started


def test_a_dead_bank_fails_fast_and_its_orders_resolve_when_it_returns(served):
    p, url = served
    payer, payee = new_user(p, balance_fen=100_000), new_user(p)
    card, headers = card_of(p, payer), user_headers(p, payer)
    admin = operator_headers(p, "admin")
    bank = p.channels["SIMBANK"]
    bank.unreachable = True
    try:
        topups = [
            _timed(
                "POST",
                f"{url}/api/v1/topups",
                json={"card_id": card, "amount_fen": 1_000, "request_id": f"dead-{i}"},
                headers=headers,
            )
            for i in range(6)
        ]
        paid, paid_s = _timed(
            "POST",
            f"{url}/api/v1/transfers",
            json={"to_user_id": payee, "amount_fen": 100, "request_id": "t1"}
            | {"pay_password": PAY_PASSWORD},
            headers=headers,
        )
        controls = httpx.get(f"{url}/api/v1/ops/controls", headers=admin).json()
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        bank.unreachable = False
    assert all(took_s < BANK_TIMEOUT_S + SLACK_S for _, took_s in topups), topups
    timed_out, refused = topups[:3], topups[3:]
    assert [a.json()["status"] for a, _ in timed_out] == ["PENDING"] * 3  # outcome unknown
    for answer, took_s in refused:  # the breaker is open: not even sent
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "BANK_UNAVAILABLE"
        assert "PENDING" in answer.json()["message"] and int(answer.headers["Retry-After"]) >= 1
        assert took_s < BANK_TIMEOUT_S  # fail fast: no wait on the dead bank
    assert paid.status_code == 200 and paid_s < SLACK_S, paid.text  # balance payments go on
    bank_breaker = next(b for b in controls["breakers"] if b["name"] == "bank.SIMBANK")
    assert bank_breaker["state"] == "OPEN"
    assert 'qianbao_breaker_state{name="bank.SIMBANK"} 2.0' in metrics

    time.sleep(0.6)  # past breaker_open_s: the follow-up job's first query is the probe
    assert payments.resolve_pending_bank_orders(p) == 6
    orders = [
        payments.get_bank_order(p, payer, o.json()["order_id"], refresh=False) for o, _ in timed_out
    ]
    assert {o["status"] for o in orders} == {"FAILED"}  # the bank never received them
    assert payments.balance(p, payer)["balance_fen"] == 100_000 - 100
    again = httpx.post(
        f"{url}/api/v1/topups",
        json={"card_id": card, "amount_fen": 1_000, "request_id": "dead-0"},
        headers=headers,
    )
    assert again.json()["status"] == "FAILED"  # the same order, not a new charge
    assert payments.balance(p, payer)["balance_fen"] == 100_000 - 100
    assert (
        httpx.get(f"{url}/api/v1/ops/controls", headers=admin).json()["breakers"][0]["state"]
        == "CLOSED"
    )
    assert_ledger_clean(p)
