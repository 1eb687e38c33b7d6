"""Flow control over real HTTP (issue 12 item 3): a flooding user gets 429 with Retry-After
while another user pays; a limit changed at run time takes effect everywhere; the token bucket
arithmetic itself."""

from __future__ import annotations

import threading

import httpx
import pytest

from qianbao.backoffice import audit
from qianbao.payments import service as payments
from qianbao.platform.controls import Controls
from qianbao.platform.flow import Bucket, Limit, parse_limits, take
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user, operator_headers
from tests.peak.helpers import user_headers


def test_a_bucket_refills_at_its_rate_up_to_its_burst():
    limit = Limit(2.0, 3)
    bucket, wait = take(limit, None, 100.0)
    assert (bucket.tokens, wait) == (2.0, 0.0)
    for _ in range(2):
        bucket, wait = take(limit, bucket, 100.0)
    assert wait == 0.0 and bucket.tokens == 0.0
    bucket, wait = take(limit, bucket, 100.0)
    assert wait == pytest.approx(0.5)  # one token comes back in 1/rate seconds
    bucket, wait = take(limit, bucket, 100.5)
    assert wait == 0.0
    full, _ = take(limit, Bucket(0.0, 0.0), 1_000.0)
    assert full.tokens == 2.0  # never more than the burst


def test_limits_parse_and_refuse_nonsense():
    found = parse_limits("user=20/40, ip=off, route:POST /api/v1/transfers=5")
    assert found == {"user": Limit(20, 40), "ip": None, "route:POST /api/v1/transfers": Limit(5, 5)}
    for bad in ("user=fast", "nobody=1/1", "route:/x=1/1", "user=-1/2", "user=1/0"):
        with pytest.raises(ValueError):
            parse_limits(bad)


def _transfer(url: str, headers: dict[str, str], to: str, request_id: str) -> httpx.Response:
    body = {"to_user_id": to, "amount_fen": 100, "request_id": request_id}
    return httpx.post(
        f"{url}/api/v1/transfers", json={**body, "pay_password": PAY_PASSWORD}, headers=headers
    )


def test_a_flooding_user_gets_429_while_another_user_pays(served):
    p, url = served
    p.controls.set_limit("user", "0.2/5", "test")
    try:
        flooder, other, payee = (new_user(p, balance_fen=100_000) for _ in range(3))
        flood_h, other_h = user_headers(p, flooder), user_headers(p, other)
        answers: list[httpx.Response] = []
        flood = threading.Thread(
            target=lambda: answers.extend(
                _transfer(url, flood_h, payee, f"f{i}") for i in range(20)
            )
        )
        flood.start()
        others = [_transfer(url, other_h, payee, f"o{i}") for i in range(4)]
        flood.join()
        refused = [a for a in answers if a.status_code == 429]
        assert len(refused) >= 12, [a.status_code for a in answers]
        assert {a.json()["code"] for a in refused} == {"RATE_LIMITED"}
        assert all(int(a.headers["Retry-After"]) >= 1 for a in refused)
        assert all(a.status_code == 200 for a in others), [a.text for a in others]
        done = sum(a.status_code == 200 for a in answers)
        # a refused request did nothing: the flooder paid exactly for the accepted ones
        assert payments.balance(p, flooder)["balance_fen"] == 100_000 - 100 * done
        first_ok = next(i for i, a in enumerate(answers) if a.status_code == 200)
        # as a client should: wait what Retry-After says, then the same request id again
        threading.Event().wait(int(refused[-1].headers["Retry-After"]) + 0.1)
        again = _transfer(url, flood_h, payee, f"f{first_ok}")
        assert again.json() == answers[first_ok].json()  # the first result, not a new one
        assert payments.balance(p, flooder)["balance_fen"] == 100_000 - 100 * done
        assert_ledger_clean(p)
    finally:
        p.controls.set_limit("user", "off", "test")


def test_a_limit_changed_at_run_time_takes_effect_in_every_process(served):
    p, url = served
    user = new_user(p)
    headers = user_headers(p, user)
    admin, auditor = operator_headers(p, "admin"), operator_headers(p, "auditor")
    other_process = Controls(p.global_db, p.settings)  # another process's view of them
    p.controls.set_limit("user", "100/200", "test")
    assert other_process.limit("user") == Limit(100, 200)
    me = f"{url}/api/v1/me"
    assert httpx.get(me, headers=headers).status_code == 200
    set_limit = f"{url}/api/v1/ops/limits/user"
    refused = httpx.put(set_limit, params={"value": "1/1"}, headers=auditor)
    assert refused.status_code == 403
    bad = httpx.put(set_limit, params={"value": "lots"}, headers=admin)
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_ARGUMENT")
    ok = httpx.put(set_limit, params={"value": "0.2/1", "reason": "peak"}, headers=admin)
    assert ok.status_code == 200, ok.text
    codes = [httpx.get(me, headers=headers).status_code for _ in range(3)]
    assert codes[0] == 200 and codes[1:] == [429, 429]
    assert httpx.put(set_limit, params={"value": "off"}, headers=admin).status_code == 200
    assert [httpx.get(me, headers=headers).status_code for _ in range(5)] == [200] * 5
    shown = httpx.get(f"{url}/api/v1/ops/controls", headers=admin).json()
    assert shown["limits"]["user"] == "off"
    threading.Event().wait(0.15)
    assert other_process.limit("user") is None  # re-read within flow_refresh_ms
    entries = [audit.public(e) for e in audit.read(p)]
    changes = [e for e in entries if e["action"] == "/api/v1/ops/limits/{name:path}"]
    assert {e["outcome"] for e in changes} == {200, 400, 403}
    assert any("value=0.2%2F1" in e["target"].get("query", "") for e in changes), changes
