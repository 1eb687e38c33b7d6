"""Red packets over real HTTP: concurrent claimers (threads against a uvicorn server) never
claim twice and never more than N in all; bad input is a 4xx that moves nothing."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx

from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user
from tests.http_server import serving

SHARES, MEMBERS, TRIES_EACH = 8, 14, 2


def _token(base: str, p: Platform, user_id: str) -> dict[str, str]:
    phone = members.get_user(p, user_id)["phone"]
    r = httpx.post(f"{base}/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD})
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_concurrent_claims_over_http(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock.set(datetime(2026, 3, 2, 12, 0))
    sender = new_user(p, balance_fen=1_000_000)
    crowd = [new_user(p, unit=i % 2) for i in range(MEMBERS - 1)]
    with serving(p) as base:
        auth = {u: _token(base, p, u) for u in [sender, *crowd]}
        r = httpx.post(
            f"{base}/api/v1/red-groups",
            json={"name": "抢红包群", "member_ids": crowd},
            headers=auth[sender],
        )
        assert r.status_code == 201, r.text
        group_id = r.json()["group_id"]
        body = {
            "kind": "RANDOM",
            "amount_fen": 10_000,
            "shares": SHARES,
            "group_id": group_id,
            "message": "新春快乐",
            "request_id": "http-1",
            "pay_password": PAY_PASSWORD,
        }
        bads = [{"amount_fen": 0}, {"amount_fen": 12.5}, {"shares": 0}, {"shares": 99}]
        bads += [{"kind": "X"}, {"message": "x" * 41}, {"group_id": "nope"}, {"extra": 1}]
        for bad in bads:
            r = httpx.post(f"{base}/api/v1/red-packets", json=body | bad, headers=auth[sender])
            assert 400 <= r.status_code < 500 and "code" in r.json(), (bad, r.text)
        assert payments.balance(p, sender)["balance_fen"] == 1_000_000
        r = httpx.post(f"{base}/api/v1/red-packets", json=body, headers=auth[sender])
        assert r.status_code == 201, r.text
        packet_id = r.json()["packet_id"]

        def grab(user_id: str) -> tuple[str, int, dict]:
            with httpx.Client(base_url=base, timeout=30) as client:
                res = client.post(f"/api/v1/red-packets/{packet_id}/claim", headers=auth[user_id])
                return user_id, res.status_code, res.json()

        attempts = [u for u in crowd for _ in range(TRIES_EACH)] + [sender]
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(grab, attempts))
        outsider = new_user(p)
        r = httpx.post(
            f"{base}/api/v1/red-packets/{packet_id}/claim", headers=_token(base, p, outsider)
        )
        assert r.status_code == 404, r.text
        view = httpx.get(f"{base}/api/v1/red-packets/{packet_id}", headers=auth[sender]).json()
    won = {u: b["amount_fen"] for u, status, b in results if status == 200}
    for u, status, b in results:
        assert status in (200, 409), b
        if status == 200:
            assert b["amount_fen"] == won[u]  # a second try answers the first claim
        else:
            assert b["code"] == "RED_PACKET_EMPTY"
    assert len(won) == SHARES and sum(won.values()) == 10_000
    assert Counter(c["claimer_id"] for c in view["claims"]) == Counter(list(won))
    assert {c["claimer_id"]: c["amount_fen"] for c in view["claims"]} == won
    assert view["status"] == "FINISHED" and view["claimed_count"] == SHARES
    p.relay.drain()
    for u, amount in won.items():
        assert payments.balance(p, u)["balance_fen"] == amount
    assert_ledger_clean(p)
