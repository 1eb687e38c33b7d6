"""The money paths through a stateless access layer, with each unit in its own platform behind
its own HTTP endpoint (in this test process, so it is fast; test_cluster.py runs real
processes). The access platform owns no unit: every write travels as a command.

Wallet pay, same- and cross-unit transfer, top-up, withdrawal, refund, a trade created and paid
through the signed gateway (the buyer's payment code, and a created trade paid at the API),
its refund; a merchant batch of payment codes; idempotent replays; a global change (a frozen
merchant, a user's limit) seen by every process at once; the ledger check clean at the end.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from qianbao.bootstrap import migrate, open_platform
from qianbao.cluster import store
from qianbao.cluster.serve import Process, open_access_process, open_unit_process
from qianbao.ledger.service import check_platform
from qianbao.members import service as members
from qianbao.openapi import apps
from qianbao.payments import service as payments
from qianbao.platform.global_cache import install_triggers
from qianbao.platform.remote import RemoteWriter
from qianbao.platform.settings import Settings
from qianbao.risk import service as risk
from tests.conftest import PG_URL, fast_settings
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, card_of, new_user
from tests.http_server import free_port
from tests.trades.conftest import load_example_client

pytestmark = pytest.mark.postgres


@dataclass
class Deployment:
    settings: Settings
    units: list[Process]
    access: Process
    http: TestClient
    seed: dict[str, Any]


def _serve(process: Process, port: int) -> uvicorn.Server:
    server = uvicorn.Server(
        uvicorn.Config(process.app, host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "unit endpoint did not start"
        time.sleep(0.02)
    return server


def _seed(settings: Settings) -> dict[str, Any]:
    p = open_platform(settings, run_migrations=False, start=False)
    try:
        users = [
            new_user(p, unit=u, balance_fen=100_000, password_free_fen=5_000) for u in (0, 0, 1)
        ]
        merchant, api_key = members.create_merchant(p, f"分布式商户{uuid.uuid4().hex[:6]}")
        # a few wallets pay it many times a minute here: known to the operators' allow list
        risk.put_list_entry(p, "allow", "merchant", merchant["id"], "distributed test", "test")
        creds = apps.create_sandbox_app(p, merchant["id"])
        phones = [members.get_user(p, u)["phone"] for u in users]
        return {
            "users": users,
            "phones": phones,
            "merchant": merchant["id"],
            "key": api_key,
            "creds": creds,
        }
    finally:
        p.close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp_path = tmp_path_factory.mktemp("distributed")
    if not PG_URL:
        pytest.skip("PostgreSQL not available (set QIANBAO_TEST_PG_URL)")
    admin = PG_URL.rstrip("/").rsplit("/", 1)[0] + "/postgres"
    names = [f"qbd_{uuid.uuid4().hex[:8]}_{n}" for n in ("global", "unit0", "unit1")]
    store.create_databases(admin, names)
    urls = [admin.rsplit("/", 1)[0] + "/" + n for n in names]
    ports = [free_port(), free_port()]
    embedded = fast_settings(tmp_path, global_url=urls[0], unit_urls=tuple(urls[1:]))
    migrate(embedded)
    install_triggers(embedded.global_database_url)
    seed = _seed(embedded)
    settings = embedded.with_(unit_endpoints=tuple(f"http://127.0.0.1:{port}" for port in ports))
    units, servers = [], []
    try:
        for u, port in enumerate(ports):
            units.append(open_unit_process(settings, u, on_lost=lambda lease: None))
            servers.append(_serve(units[-1], port))
        access = open_access_process(settings)
        with TestClient(access.app) as http:
            yield Deployment(settings, units, access, http, seed)
        access.close()
    finally:
        for server in servers:
            server.should_exit = True
        for unit in units:
            unit.close()
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _login(d: Deployment, k: int) -> dict[str, str]:
    answer = d.http.post(
        "/api/v1/sessions", json={"phone": d.seed["phones"][k], "password": LOGIN_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_wallet_money_paths_through_the_access_layer(deployment: Deployment) -> None:
    d, p = deployment, deployment.access.p
    assert p.owned_units == () and d.units[0].p.owned_units == (0,)
    import psycopg

    readonly = pytest.raises(psycopg.errors.ReadOnlySqlTransaction)  # the access layer can't write
    with readonly, p.units[0].transaction() as tx:
        tx.execute("DELETE FROM accounts")
    a, b, c = d.seed["users"]
    ha = _login(d, 0)
    pay = {"merchant_id": d.seed["merchant"], "amount_fen": 1_000, "request_id": "w-pay-1"}
    first = d.http.post("/api/v1/payments", json=pay, headers=ha)
    assert first.status_code == 200, first.text
    assert d.http.post("/api/v1/payments", json=pay, headers=ha).json() == first.json()
    other = d.http.post("/api/v1/payments", json={**pay, "amount_fen": 999}, headers=ha)
    assert (other.status_code, other.json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    for to, rid in ((b, "w-tr-same"), (c, "w-tr-cross")):
        body = {
            "to_user_id": to,
            "amount_fen": 2_000,
            "request_id": rid,
            "pay_password": PAY_PASSWORD,
        }
        answer = d.http.post("/api/v1/transfers", json=body, headers=ha)
        assert answer.status_code == 200, answer.text
        assert answer.json()["cross_unit"] is (to == c)
    card = card_of(p, a)
    top = d.http.post(
        "/api/v1/topups",
        json={"card_id": card, "amount_fen": 500, "request_id": "w-top"},
        headers=ha,
    )
    assert top.status_code == 200 and top.json()["status"] == "SUCCEEDED", top.text
    wd = {"card_id": card, "amount_fen": 300, "request_id": "w-wd", "pay_password": PAY_PASSWORD}
    answer = d.http.post("/api/v1/withdrawals", json=wd, headers=ha)
    assert answer.status_code == 200 and answer.json()["status"] == "SUCCEEDED", answer.text
    mh = {"Authorization": f"Bearer {d.seed['key']}"}
    refund = {"amount_fen": 400, "request_id": "w-ref"}
    path = f"/api/v1/merchant/payments/{first.json()['payment_id']}/refunds"
    assert d.http.post(path, json=refund, headers=mh).status_code == 200
    assert d.http.post(path, json=refund, headers=mh).status_code == 200  # the same refund
    too_much = d.http.post(path, json={"amount_fen": 10_000, "request_id": "w-ref-2"}, headers=mh)
    assert too_much.status_code == 400, too_much.text
    _settled(d, {a: 100_000 - 1_000 - 4_000 + 500 - 300 + 400, b: 102_000, c: 102_000})


def _settled(d: Deployment, expected: dict[str, int]) -> None:
    p = d.access.p
    deadline = time.monotonic() + 15
    while True:
        actual = {u: payments.balance(p, u)["balance_fen"] for u in expected}
        result = check_platform(p)
        if actual == expected and result.in_transit_fen == 0:
            assert result.ok, result.units
            return
        assert time.monotonic() < deadline, (actual, expected, result.in_transit_fen)
        time.sleep(0.1)


def test_gateway_trades_and_a_global_change_through_the_access_layer(
    deployment: Deployment,
) -> None:
    d, p = deployment, deployment.access.p
    a, _, c = d.seed["users"]
    before = {u: payments.balance(p, u)["balance_fen"] for u in (a, c)}
    client = load_example_client().GatewayClient(
        "/gateway.do",
        d.seed["creds"]["app_id"],
        d.seed["creds"]["app_private_key"],
        d.seed["creds"]["platform_public_key"],
    )
    client.http = d.http
    for k in (0, 2):  # a buyer in each unit pays by payment code
        code = d.http.post("/api/v1/me/payment-code", headers=_login(d, k)).json()["code"]
        biz = {
            "out_trade_no": f"gw-{k}",
            "total_amount": "12.34",
            "subject": "咖啡",
            "auth_code": code,
        }
        out = client.call("qianbao.trade.pay", biz)
        assert out["code"] == "10000", out
        again = client.call("qianbao.trade.pay", biz)  # the same out_trade_no: the same trade
        assert again.get("trade_no", out["trade_no"]) == out["trade_no"], again
        refund = client.call(
            "qianbao.trade.refund",
            {"out_trade_no": f"gw-{k}", "refund_amount": "2.34", "out_request_no": f"r-{k}"},
        )
        assert refund["code"] == "10000", refund
    created = client.call(
        "qianbao.trade.create",
        {"out_trade_no": "gw-c", "total_amount": "1.00", "subject": "茶", "buyer_id": c},
    )
    assert created["code"] == "10000", created
    paid = d.http.post(
        f"/api/v1/me/trades/{created['trade_no']}/pay", json={}, headers=_login(d, 2)
    )
    assert paid.status_code == 200, paid.text
    _settled(d, {a: before[a] - 1_000, c: before[c] - 1_000 - 100})
    # a merchant's contract changed through one process is seen by the others at once
    # (LISTEN/NOTIFY drops their cached row; the cache would otherwise keep it for 5 s)
    unit_p = d.units[0].p
    assert members.get_merchant_cached(unit_p, d.seed["merchant"])["settle_cycle"] != "T1"
    members.set_settle_cycle(p, d.seed["merchant"], "T1")
    deadline = time.monotonic() + 2
    while d.seed["merchant"] in unit_p.merchant_cache:
        assert time.monotonic() < deadline, "the unit process kept the changed merchant"
        time.sleep(0.02)
    assert members.get_merchant_cached(unit_p, d.seed["merchant"])["settle_cycle"] == "T1"


def test_a_token_revoked_in_the_global_database_stops_working_at_once(
    deployment: Deployment,
) -> None:
    import hashlib

    import psycopg

    d = deployment
    headers = _login(d, 1)
    assert d.http.get("/api/v1/me/balance", headers=headers).status_code == 200  # now cached
    token = headers["Authorization"].removeprefix("Bearer ")
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert digest in d.access.p.token_cache
    with psycopg.connect(d.settings.global_database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM user_sessions WHERE token_hash = %s", (digest,))  # an operator
    deadline = time.monotonic() + 2
    while digest in d.access.p.token_cache:
        assert time.monotonic() < deadline, "the access layer kept the revoked token"
        time.sleep(0.02)
    assert d.http.get("/api/v1/me/balance", headers=headers).status_code == 401


def test_secured_trade_follow_ups_and_close_travel_as_commands(deployment: Deployment) -> None:
    """Ship, confirm receipt and close reach the buyer's unit process as commands (once closures:
    501 NOT_AVAILABLE_IN_DISTRIBUTED_MODE), and a repeated confirm moves nothing."""
    d, p = deployment, deployment.access.p
    c = d.seed["users"][2]
    before = payments.balance(p, c)["balance_fen"]
    client = load_example_client().GatewayClient(
        "/gateway.do",
        d.seed["creds"]["app_id"],
        d.seed["creds"]["app_private_key"],
        d.seed["creds"]["platform_public_key"],
    )
    client.http = d.http
    biz = {"total_amount": "3.00", "subject": "书", "buyer_id": c, "product_code": "SECURED_TRADE"}
    created = client.call("qianbao.trade.create", {**biz, "out_trade_no": "gw-sec"})
    assert created["code"] == "10000", created
    trade = f"/api/v1/me/trades/{created['trade_no']}"
    buyer = _login(d, 2)
    assert d.http.post(f"{trade}/pay", json={}, headers=buyer).status_code == 200
    mh = {"Authorization": f"Bearer {d.seed['key']}"}
    shipped = d.http.post(f"/api/v1/merchant/trades/{created['trade_no']}/ship", headers=mh)
    assert shipped.status_code == 200, shipped.text
    form = {"pay_password": PAY_PASSWORD}
    done = d.http.post(f"{trade}/confirm", data=form, headers=buyer)
    assert done.status_code == 200 and done.json()["trade_status"] == "TRADE_FINISHED", done.text
    again = d.http.post(f"{trade}/confirm", data=form, headers=buyer)
    assert (again.status_code, again.json()["code"]) == (409, "TRADE_HAS_FINISHED"), again.text
    unpaid = client.call("qianbao.trade.create", {**biz, "out_trade_no": "gw-sec-2"})
    closed = client.call("qianbao.trade.close", {"out_trade_no": "gw-sec-2"})
    assert closed["code"] == "10000" and closed["trade_no"] == unpaid["trade_no"], closed
    _settled(d, {c: before - 300})


def test_a_merchant_batch_of_payment_codes_through_the_access_layer(
    deployment: Deployment,
) -> None:
    """The batch endpoint's items reach both units' processes as commands; a repeat moves
    nothing; the ledger is clean."""
    d, p = deployment, deployment.access.p
    a, _, c = d.seed["users"]
    before = {u: payments.balance(p, u)["balance_fen"] for u in (a, c)}
    items = [
        {
            "out_trade_no": f"batch-{k}",
            "auth_code": d.http.post("/api/v1/me/payment-code", headers=_login(d, k)).json()[
                "code"
            ],
            "amount_fen": 250,
        }
        for k in (0, 2)  # a buyer in each unit
    ]
    mh = {"Authorization": f"Bearer {d.seed['key']}"}
    first = d.http.post("/api/v1/merchant/payments/batch", json={"items": items}, headers=mh)
    assert first.status_code == 200 and first.json()["succeeded"] == 2, first.text
    again = d.http.post("/api/v1/merchant/payments/batch", json={"items": items}, headers=mh)
    trade_nos = [r.get("trade_no") for r in again.json()["results"]]
    assert trade_nos == [r["trade_no"] for r in first.json()["results"]], again.text
    _settled(d, {a: before[a] - 250, c: before[c] - 250})


def test_a_user_changed_by_another_process_is_dropped_from_every_cache(
    deployment: Deployment,
) -> None:
    """The user cache keeps a row until a change drops it: a change made through a unit's
    process reaches the access layer's cache by the users trigger's notice."""
    d, p = deployment, deployment.access.p
    a = d.seed["users"][0]
    members.get_user_cached(p, a)
    assert a in p.user_cache
    members.set_password_free_limit(d.units[1].p, a, 4_000, PAY_PASSWORD)
    deadline = time.monotonic() + 2
    while a in p.user_cache:
        assert time.monotonic() < deadline, "the access layer kept the changed user"
        time.sleep(0.02)
    assert members.get_user_cached(p, a)["password_free_limit_fen"] == 4_000


def test_concurrent_commands_share_requests_and_keep_their_own_outcomes(
    deployment: Deployment,
) -> None:
    """Payments sent at once go to their unit several per request (``CommandLanes``); each
    keeps its own answer, a refused one among them included, and each is applied once."""
    d, p = deployment, deployment.access.p
    b, merchant = d.seed["users"][1], d.seed["merchant"]
    writer = p.writers[p.unit_of(b)]
    assert isinstance(writer, RemoteWriter)
    first = asyncio.run(payments.pay_merchant_async(p, b, merchant, 10, "lanes-0"))
    before, batches = payments.balance(p, b)["balance_fen"], writer.batched_requests

    async def at_once() -> list[object]:
        calls = [
            payments.pay_merchant_async(p, b, merchant, 10, f"lanes-{i}") for i in range(1, 41)
        ]
        calls.append(payments.pay_merchant_async(p, b, merchant, 11, "lanes-0"))  # key reused
        calls.append(payments.pay_merchant_async(p, b, merchant, 10, "lanes-0"))  # a repeat
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(at_once())
    assert writer.batched_requests > batches  # some requests carried several commands
    paid = results[:40]
    assert all(isinstance(r, dict) and r["status"] == "SUCCEEDED" for r in paid), results
    assert len({r["id"] for r in paid if isinstance(r, dict)}) == 40
    reused, repeat = results[40], results[41]
    assert getattr(reused, "code", None) == "IDEMPOTENCY_KEY_REUSED", reused
    assert isinstance(repeat, dict) and repeat["id"] == first["id"], repeat
    _settled(d, {b: before - 400})
