"""Sessions and keys (issue 11, item 2): log out, list and revoke one's sessions, an operator
ends a user's sessions, API keys rotate with an overlap window and are revoked, and every
platform (process) refuses a revoked credential within a second."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from qianbao.api.app import create_app
from qianbao.members import credentials, sessions
from qianbao.members import service as members
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from tests.conftest import fast_settings
from tests.factories import LOGIN_PASSWORD, new_user


@pytest.fixture
def world(sqlite_platform):
    p = sqlite_platform
    user = new_user(p)
    merchant, mkey = members.create_merchant(p, "Key Shop")
    _, okey = members.create_operator(p, "sec-admin", "admin")
    return {
        "p": p,
        "c": TestClient(create_app(p)),
        "user": user,
        "phone": members.get_user(p, user)["phone"],
        "merchant": merchant["id"],
        "mkey": mkey,
        "okey": okey,
    }


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _login(w, agent: str = "test") -> dict:
    answer = w["c"].post(
        "/api/v1/sessions",
        json={"phone": w["phone"], "password": LOGIN_PASSWORD},
        headers={"user-agent": agent},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_log_out_ends_the_session_at_once(world):
    c, session = world["c"], _login(world)
    me = _bearer(session["token"])
    assert c.get("/api/v1/me", headers=me).status_code == 200  # now cached in this process
    assert c.delete("/api/v1/sessions/current", headers=me).json() == {"revoked": 1}
    refused = c.get("/api/v1/me", headers=me)
    assert refused.status_code == 401 and refused.json()["code"] == "TOKEN_INVALID"
    assert c.delete("/api/v1/sessions/current", headers=me).status_code == 401


def test_list_and_revoke_own_sessions_but_not_another_users(world):
    c, p = world["c"], world["p"]
    phone_session, laptop = _login(world, "phone-app"), _login(world, "laptop")
    mine = c.get("/api/v1/me/sessions", headers=_bearer(laptop["token"])).json()
    assert [s["client"] for s in mine] == ["laptop", "phone-app"]
    assert [s["current"] for s in mine] == [True, False]
    assert {"ip", "created_at_ms", "expires_at_ms"} <= set(mine[0])
    stranger = new_user(p)
    token, _ = members.login(p, members.get_user(p, stranger)["phone"], LOGIN_PASSWORD)
    theirs = c.delete(f"/api/v1/me/sessions/{phone_session['session_id']}", headers=_bearer(token))
    assert theirs.status_code == 404 and theirs.json()["code"] == "SESSION_NOT_FOUND"
    path = f"/api/v1/me/sessions/{phone_session['session_id']}"
    ended = c.delete(path, headers=_bearer(laptop["token"]))
    assert ended.json() == {
        "session_id": phone_session["session_id"],
        "revoked": True,
        "changed": True,
    }
    assert c.delete(path, headers=_bearer(laptop["token"])).json()["changed"] is False  # replay
    assert c.get("/api/v1/me", headers=_bearer(phone_session["token"])).status_code == 401
    assert c.get("/api/v1/me", headers=_bearer(laptop["token"])).status_code == 200
    bad = c.delete("/api/v1/me/sessions/x'--", headers=_bearer(laptop["token"]))
    assert bad.status_code == 422 and set(bad.json()) == {"code", "message"}


def test_an_operator_ends_every_session_of_a_user(world):
    c, user = world["c"], world["user"]
    tokens = [_login(world)["token"] for _ in range(3)]
    ops = _bearer(world["okey"])
    listed = c.get(f"/api/v1/ops/users/{user}/sessions", headers=ops).json()
    assert len(listed) == 3
    assert c.post(f"/api/v1/ops/users/{user}/sessions/revoke", headers=ops).json() == {"revoked": 3}
    for token in tokens:
        assert c.get("/api/v1/me", headers=_bearer(token)).status_code == 401
    assert c.post(f"/api/v1/ops/users/{user}/sessions/revoke", headers=ops).json() == {"revoked": 0}
    not_ops = c.post(f"/api/v1/ops/users/{user}/sessions/revoke", headers=_bearer(tokens[0]))
    assert not_ops.status_code == 401
    merchant = c.post(f"/api/v1/ops/users/{user}/sessions/revoke", headers=_bearer(world["mkey"]))
    assert merchant.status_code == 403


def test_a_user_keeps_a_bounded_number_of_sessions(tmp_path):
    from qianbao.bootstrap import open_platform

    p = open_platform(fast_settings(tmp_path, sessions_per_user_max=2))
    try:
        user = new_user(p)
        phone = members.get_user(p, user)["phone"]
        first, second, third = (members.login(p, phone, LOGIN_PASSWORD)[0] for _ in range(3))
        with pytest.raises(QianbaoError):
            members.user_for_token(p, first)
        assert members.user_for_token(p, second) == members.user_for_token(p, third) == user
        assert len(sessions.list_sessions(p, user)) == 2
    finally:
        p.close()


def test_a_rotated_merchant_key_works_through_the_overlap_window(world):
    c, old = world["c"], world["mkey"]
    rotated = c.post(
        "/api/v1/merchant/keys/rotate", json={"overlap_minutes": 60}, headers=_bearer(old)
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["api_key"]
    assert rotated.json()["retiring"] == [old.partition(".")[0]]
    for key in (old, new):
        assert c.get("/api/v1/merchant/balance", headers=_bearer(key)).status_code == 200
    statuses = {
        k["key_id"]: k["status"]
        for k in c.get("/api/v1/merchant/keys", headers=_bearer(new)).json()
    }
    assert statuses == {old.partition(".")[0]: "RETIRING", new.partition(".")[0]: "ACTIVE"}
    try:
        clock.set(clock.now() + timedelta(minutes=61))
        expired = c.get("/api/v1/merchant/balance", headers=_bearer(old))
        assert expired.status_code == 401 and expired.json()["code"] == "API_KEY_INVALID"
        assert c.get("/api/v1/merchant/balance", headers=_bearer(new)).status_code == 200
    finally:
        clock.use_real_time()
    last = c.delete(f"/api/v1/merchant/keys/{new.partition('.')[0]}", headers=_bearer(new))
    assert last.status_code == 409 and last.json()["code"] == "API_KEY_LAST"
    big = c.post("/api/v1/merchant/keys/rotate", json={"overlap_minutes": -1}, headers=_bearer(new))
    assert big.status_code == 422


def test_rotation_without_overlap_and_revocation_of_keys(world):
    c, p = world["c"], world["p"]
    ops = _bearer(world["okey"])
    rotated = c.post("/api/v1/ops/keys/rotate", json={"overlap_minutes": 0}, headers=ops).json()
    assert c.get("/api/v1/ops/keys", headers=ops).status_code == 401  # the old key stopped now
    new_ops = _bearer(rotated["api_key"])
    assert c.get("/api/v1/ops/keys", headers=new_ops).status_code == 200
    merchant_key_id = world["mkey"].partition(".")[0]
    revoked = c.delete(f"/api/v1/ops/api-keys/{merchant_key_id}", headers=new_ops)
    assert revoked.status_code == 200 and revoked.json()["status"] == "REVOKED"
    refused = c.get("/api/v1/merchant/balance", headers=_bearer(world["mkey"]))
    assert refused.status_code == 401
    again = c.delete(f"/api/v1/ops/api-keys/{merchant_key_id}", headers=new_ops)
    assert again.json()["status"] == "REVOKED"  # idempotent
    unknown = c.delete("/api/v1/ops/api-keys/mk_00000000", headers=new_ops)
    assert unknown.status_code == 404 and unknown.json()["code"] == "API_KEY_NOT_FOUND"
    for _ in range(credentials.KEYS_PER_OWNER_MAX - 1):
        credentials.rotate(p, "operator", credentials.operator_id(p, "sec-admin"), 60)
    with pytest.raises(QianbaoError) as limit:
        credentials.rotate(p, "operator", credentials.operator_id(p, "sec-admin"), 60)
    assert limit.value.code == "API_KEY_LIMIT"


def test_every_platform_drops_a_revoked_credential_within_a_second(tmp_path):
    """Two platforms on the same databases stand for two processes: each caches what it
    checked; a revocation in one is seen by the other on its next check of the epoch."""
    from qianbao.bootstrap import open_platform

    a = open_platform(fast_settings(tmp_path))
    b = open_platform(fast_settings(tmp_path, relay_interval_ms=50))
    try:
        user = new_user(a)
        _, key = members.create_merchant(a, "Epoch Shop")
        token, _ = members.login(a, members.get_user(a, user)["phone"], LOGIN_PASSWORD)
        assert members.user_for_token(b, token) == user  # cached in b
        assert members.principal_for_key(b, key).kind == "merchant"
        start = time.monotonic()
        sessions.revoke(a, user, None, "test")
        credentials.revoke_any(a, key.partition(".")[0])
        with pytest.raises(QianbaoError):
            members.user_for_token(a, token)  # the revoking process: at once
        token_gone = key_gone = None
        while time.monotonic() - start < 3 and (token_gone is None or key_gone is None):
            try:
                members.user_for_token(b, token)
            except QianbaoError:
                token_gone = token_gone or time.monotonic() - start
            try:
                members.principal_for_key(b, key)
            except QianbaoError:
                key_gone = key_gone or time.monotonic() - start
            time.sleep(0.02)
        assert token_gone is not None and token_gone <= 1.05
        assert key_gone is not None and key_gone <= 1.05
    finally:
        b.close()
        a.close()


def test_another_os_process_refuses_a_revoked_token_and_key_within_a_second(tmp_path):
    """A real second process (``qianbao serve`` on the same databases, its own caches) answers a
    token and a key, then refuses both within a second of their revocation here."""
    import os
    import signal
    import subprocess
    import sys

    import httpx

    from qianbao.bootstrap import open_platform
    from tests.http_server import free_port

    p = open_platform(fast_settings(tmp_path))
    port = free_port()
    env = {
        **os.environ,
        "QIANBAO_DATA_DIR": str(tmp_path),
        "QIANBAO_PASSWORD_TIME_COST": "1",
        "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
    }
    server = subprocess.Popen(
        [sys.executable, "-c", "from qianbao.cli import app; app()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        user = new_user(p)
        _, key = members.create_merchant(p, "Process Shop")
        token, _ = members.login(p, members.get_user(p, user)["phone"], LOGIN_PASSWORD)
        with httpx.Client(base_url=base, timeout=5) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the second process did not start"
                time.sleep(0.2)
            assert http.get("/api/v1/me", headers=_bearer(token)).status_code == 200
            assert http.get("/api/v1/merchant/balance", headers=_bearer(key)).status_code == 200
            start = time.monotonic()
            sessions.revoke(p, user, None, "test")
            credentials.revoke_any(p, key.partition(".")[0])
            gone: dict[str, float] = {}
            while len(gone) < 2 and time.monotonic() - start < 5:
                for name, path, secret in (
                    ("token", "/api/v1/me", token),
                    ("key", "/api/v1/merchant/balance", key),
                ):
                    if (
                        name not in gone
                        and http.get(path, headers=_bearer(secret)).status_code == 401
                    ):
                        gone[name] = time.monotonic() - start
                time.sleep(0.02)
        assert set(gone) == {"token", "key"}
        assert max(gone.values()) <= 1.2, gone  # the 1 s epoch interval plus one round trip
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        p.close()


def test_sessions_keys_throttle_and_step_up_sql_on_both_engines(platform):
    """Every statement of members/store.py runs on SQLite and on PostgreSQL."""
    from qianbao.members import housekeeping, stepup
    from qianbao.members.sessions import Client

    p = platform
    user = new_user(p)
    phone = members.get_user(p, user)["phone"]
    for _ in range(5):  # upserts of the throttle counts, then a wait
        with pytest.raises(QianbaoError):
            members.log_in(p, phone, "wrong-pass1", Client(ip="203.0.113.4"))
    done = members.log_in(p, phone, LOGIN_PASSWORD, Client(ip="198.51.100.4", agent="pg"))
    again = members.log_in(p, phone, LOGIN_PASSWORD, Client(device_token=done.device_token))
    assert again.device_token == done.device_token
    assert [s["current"] for s in sessions.list_sessions(p, user, again.token)] == [True, False]
    assert sessions.revoke(p, user, [done.session_id], "test") == 1
    assert sessions.log_out(p, again.token) == 1
    merchant, key = members.create_merchant(p, "Both Engines Shop")
    rotated = credentials.rotate(p, "merchant", merchant["id"], 10)
    assert members.principal_for_key(p, key).id == merchant["id"]  # in its overlap window
    credentials.revoke(p, "merchant", merchant["id"], key.partition(".")[0])
    with pytest.raises(QianbaoError):
        members.principal_for_key(p, key)
    assert members.principal_for_key(p, rotated["api_key"]).kind == "merchant"
    challenge = stepup.challenge(p, user, stepup.PAYMENT).challenge_id
    from qianbao.members import store

    with p.global_db.transaction() as tx:
        store.grant_challenge(tx, challenge, 1)
        assert store.use_grant(tx, user, stepup.PAYMENT, 0, 2) == 1
        assert store.use_grant(tx, user, stepup.PAYMENT, 0, 3) == 0
    assert set(housekeeping.purge(p)) == {"sessions", "throttle", "challenges"}
