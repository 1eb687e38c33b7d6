import threading
from datetime import date, datetime

import pytest

from qianbao.members import service as members
from qianbao.members.identity import (
    age_years,
    check_digit,
    luhn_ok,
    make_card_no,
    make_id_number,
    parse_id_number,
)
from qianbao.members.sessions import Client
from qianbao.platform.clock import clock
from qianbao.platform.errors import Conflict, Forbidden, InvalidArgument, QianbaoError, Unauthorized
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user

TODAY = date(2026, 11, 25)


def test_gb11643_check_digit_known_example():
    # The standard's worked example: 11010519491231002X.
    assert check_digit("11010519491231002") == "X"
    assert parse_id_number("11010519491231002x", TODAY) == date(1949, 12, 31)


@pytest.mark.parametrize(
    "bad",
    [
        "11010519491231002",
        "110105194912310021",
        "99010519491231002X",
        "11010519491331002X",
        "11010520991231002X",
        "1101051949123100ZX",
        "",
    ],
)
def test_bad_id_numbers(bad):
    with pytest.raises(InvalidArgument):
        parse_id_number(bad, TODAY)


def test_age_boundary():
    assert age_years(date(2008, 11, 25), TODAY) == 18
    assert age_years(date(2008, 11, 26), TODAY) == 17


def test_underage_and_duplicates_are_refused(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(2026, 11, 25, 12))
    minor = make_id_number("110101", date(2008, 11, 26), 1)
    with pytest.raises(Forbidden) as err:
        members.register_user(
            p, members.NewUser("小明", minor, "13012345678", LOGIN_PASSWORD, PAY_PASSWORD)
        )
    assert err.value.code == "USER_UNDERAGE"
    adult = make_id_number("110101", date(2008, 11, 25), 2)
    members.register_user(
        p, members.NewUser("小红", adult, "13012345679", LOGIN_PASSWORD, PAY_PASSWORD)
    )
    for id_number, phone in [
        (adult, "13012345670"),
        (make_id_number("110101", date(1990, 1, 1), 3), "13012345679"),
    ]:
        with pytest.raises(Conflict):
            members.register_user(
                p, members.NewUser("某人", id_number, phone, LOGIN_PASSWORD, PAY_PASSWORD)
            )


@pytest.mark.parametrize(
    ("login", "pay", "code"),
    [
        ("short1", PAY_PASSWORD, "PASSWORD_TOO_WEAK"),
        ("onlyletters", PAY_PASSWORD, "PASSWORD_TOO_WEAK"),
        (LOGIN_PASSWORD, "12345", "PAY_PASSWORD_INVALID"),
        (LOGIN_PASSWORD, "111111", "PAY_PASSWORD_INVALID"),
        (LOGIN_PASSWORD, "12a456", "PAY_PASSWORD_INVALID"),
    ],
)
def test_password_rules(sqlite_platform, login, pay, code):
    with pytest.raises(InvalidArgument) as err:
        members.register_user(
            sqlite_platform,
            members.NewUser(
                "张三", make_id_number("110101", date(1990, 1, 1), 9), "13112345678", login, pay
            ),
        )
    assert err.value.code == code


def test_passwords_are_argon2_hashes_and_wrong_logins_do_not_lock_the_owner_out(sqlite_platform):
    """Five wrong logins used to lock the user out for three hours (issue 11): a stranger's
    failures are throttled, the owner from elsewhere still logs in."""
    p = sqlite_platform
    u = new_user(p)
    row = members.get_user(p, u)
    assert row["login_hash"].startswith("$argon2id$") and row["pay_hash"].startswith("$argon2id$")
    assert LOGIN_PASSWORD not in row["login_hash"]
    stranger = Client(ip="203.0.113.9")
    for _ in range(4):
        with pytest.raises(Unauthorized):
            members.log_in(p, row["phone"], "wrong-pass1", stranger)
    with pytest.raises(QianbaoError) as throttled:
        members.log_in(p, row["phone"], "wrong-pass1", stranger)
    assert throttled.value.code == "LOGIN_THROTTLED" and throttled.value.http_status == 429
    done = members.log_in(p, row["phone"], LOGIN_PASSWORD, Client(ip="198.51.100.7"))
    assert members.user_for_token(p, done.token) == u


def test_concurrent_wrong_payment_passwords_all_count(platform):
    """Eight wrong tries at once must lock the credential (limit 5): each one is counted."""
    p = platform
    u = new_user(p)
    barrier = threading.Barrier(8)
    codes: list[str] = []

    def wrong_try() -> None:
        barrier.wait()
        try:
            members.authorize_payment(p, u, 100, "000000")
        except (Unauthorized, Forbidden) as exc:
            codes.append(exc.code)

    threads = [threading.Thread(target=wrong_try) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(codes) == 8 and set(codes) <= {"WRONG_PAY_PASSWORD", "PAY_PASSWORD_LOCKED"}
    with pytest.raises(Forbidden) as err:
        members.authorize_payment(p, u, 100, PAY_PASSWORD)
    assert err.value.code == "PAY_PASSWORD_LOCKED"


def test_cards_need_luhn_and_the_holder_the_bank_knows(sqlite_platform):
    p = sqlite_platform
    assert luhn_ok(make_card_no("622202123456789"))
    u = new_user(p)
    with pytest.raises(InvalidArgument):
        members.bind_card(p, u, "6222021234567890123")
    bank = p.channels["SIMBANK"]
    card = make_card_no("621700000000001")
    bank.open_card(card, "别人", 100)
    with pytest.raises(Exception) as err:
        members.bind_card(p, u, card)
    assert getattr(err.value, "code", "") == "CARD_REJECTED"
