"""The login throttle (issue 11, item 3): growing delays per phone and address, per address and
per phone, a known device skips the per-phone delay, and nothing ever locks the owner out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from qianbao.api.app import create_app
from qianbao.members import service as members
from qianbao.members import throttle
from qianbao.members.sessions import Client
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from qianbao.platform.settings import Settings
from tests.factories import LOGIN_PASSWORD, new_user


def _try(p, phone: str, password: str, client: Client) -> str:
    try:
        members.log_in(p, phone, password, client)
    except QianbaoError as exc:
        return str(exc.code)
    return "OK"


def test_the_delay_doubles_after_the_free_tries_up_to_the_cap():
    s = Settings()
    assert [throttle.delay_ms(s, n, 3) for n in range(1, 8)] == [
        0,
        0,
        0,
        1_000,
        2_000,
        4_000,
        8_000,
    ]
    assert throttle.delay_ms(s, 500, 3) == s.login_delay_max_ms


def test_one_guesser_waits_longer_after_each_failure_and_the_owner_is_never_locked(
    sqlite_platform,
):
    p = sqlite_platform
    phone = members.get_user(p, new_user(p))["phone"]
    guesser = Client(ip="203.0.113.5")
    clock.set(clock.now())
    try:
        codes = [_try(p, phone, "wrong-pass1", guesser) for _ in range(5)]
        assert codes == ["WRONG_LOGIN_PASSWORD"] * 4 + ["LOGIN_THROTTLED"]
        clock.advance(timedelta(seconds=1))
        assert _try(p, phone, "wrong-pass1", guesser) == "WRONG_LOGIN_PASSWORD"  # 5th failure
        clock.advance(timedelta(seconds=1))
        assert _try(p, phone, LOGIN_PASSWORD, guesser) == "LOGIN_THROTTLED"  # now 2 s
        clock.advance(timedelta(seconds=1))
        assert _try(p, phone, LOGIN_PASSWORD, guesser) == "OK"  # even the guesser's address
        assert _try(p, phone, LOGIN_PASSWORD, Client(ip="198.51.100.1")) == "OK"
    finally:
        clock.use_real_time()


def test_many_addresses_at_one_phone_do_not_stop_the_owner_on_a_known_device(sqlite_platform):
    p = sqlite_platform
    phone = members.get_user(p, new_user(p))["phone"]
    owner = members.log_in(p, phone, LOGIN_PASSWORD, Client(ip="198.51.100.20"))
    assert owner.device_token.startswith("dv_")
    for i in range(p.settings.login_phone_free_failures + 1):  # a botnet, one try per address
        assert _try(p, phone, "wrong-pass1", Client(ip=f"192.0.2.{i}")) == "WRONG_LOGIN_PASSWORD"
    assert _try(p, phone, LOGIN_PASSWORD, Client(ip="192.0.2.200")) == "LOGIN_THROTTLED"
    known = Client(ip="198.51.100.99", device_token=owner.device_token)
    assert _try(p, phone, LOGIN_PASSWORD, known) == "OK"
    forged = Client(ip="198.51.100.98", device_token="dv_made-up")
    assert _try(p, phone, LOGIN_PASSWORD, forged) == "LOGIN_THROTTLED"


def test_one_address_spraying_phones_is_throttled_and_unknown_phones_count(sqlite_platform):
    p = sqlite_platform
    sprayer = Client(ip="203.0.113.77")
    for i in range(p.settings.login_ip_free_failures + 1):
        assert _try(p, f"1390000{i:04d}", "wrong-pass1", sprayer) == "WRONG_LOGIN_PASSWORD"
    phone = members.get_user(p, new_user(p))["phone"]
    assert _try(p, phone, LOGIN_PASSWORD, sprayer) == "LOGIN_THROTTLED"
    assert _try(p, phone, LOGIN_PASSWORD, Client(ip="203.0.113.78")) == "OK"


def test_over_http_a_throttled_login_is_429_with_retry_after(sqlite_platform):
    p = sqlite_platform
    phone = members.get_user(p, new_user(p))["phone"]
    c = TestClient(create_app(p))
    answers = [
        c.post("/api/v1/sessions", json={"phone": phone, "password": "wrong-pass1"})
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert answers[-1].json()["code"] == "LOGIN_THROTTLED"
    assert int(answers[-1].headers["retry-after"]) >= 1
    with pytest.raises(KeyError):
        answers[0].headers["retry-after"]
    body = c.post("/api/v1/sessions", json={"phone": phone, "password": "x", "device_token": 5})
    assert body.status_code == 422 and set(body.json()) == {"code", "message"}


def test_housekeeping_deletes_ended_sessions_and_spent_counts(sqlite_platform):
    from qianbao.members import housekeeping, sessions

    p = sqlite_platform
    user = new_user(p)
    phone = members.get_user(p, user)["phone"]
    clock.set(clock.now())
    try:
        live, _ = members.login(p, phone, LOGIN_PASSWORD)
        ended, _ = members.login(p, phone, LOGIN_PASSWORD)
        sessions.log_out(p, ended)
        _try(p, phone, "wrong-pass1", Client(ip="203.0.113.1"))
        assert housekeeping.purge(p) == {"sessions": 0, "throttle": 0, "challenges": 0}
        clock.advance(timedelta(days=9))  # both ended over a week ago (the live one at 24 h)
        assert housekeeping.purge(p) == {"sessions": 2, "throttle": 3, "challenges": 0}
        fresh, _ = members.login(p, phone, LOGIN_PASSWORD)
        assert housekeeping.purge(p)["sessions"] == 0 and members.user_for_token(p, fresh) == user
        with pytest.raises(QianbaoError):
            members.user_for_token(p, live)
    finally:
        clock.use_real_time()


def test_client_addresses_behind_trusted_proxies_and_ipv6_networks():
    from qianbao.api.deps import client_address

    behind = Settings(trusted_proxies=("10.0.0.0/8",))
    assert client_address("10.0.0.2", "198.51.100.7", behind) == "198.51.100.7"
    # the client's own claim on the left is ignored: the right-most untrusted hop counts
    assert client_address("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.9", behind) == ("198.51.100.7")
    assert client_address("203.0.113.9", "1.2.3.4", behind) == "203.0.113.9"  # not a proxy
    assert client_address("10.0.0.2", "1.2.3.4", Settings()) == "10.0.0.2"  # none trusted
    assert throttle.address_key("2001:db8:1:2:aaaa::1") == throttle.address_key("2001:db8:1:2::9")
    assert throttle.address_key("2001:db8:1:2::9") == "2001:db8:1:2::/64"
    assert throttle.address_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert throttle.address_key("198.51.100.7") == "198.51.100.7"
