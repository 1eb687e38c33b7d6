"""Member use cases: registration, login, payment password, cards, merchants, operators, keys."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from qianbao.ledger.chart import account_id
from qianbao.ledger.service import opener
from qianbao.members import credentials, sessions, stepup, throttle, vault
from qianbao.members import store as member_store
from qianbao.members.errors import (
    CardInvalid,
    CardNotFound,
    ChannelUnknown,
    FeeRateInvalid,
    LoginPasswordLocked,
    MerchantExists,
    MerchantNotFound,
    NameInvalid,
    OperatorExists,
    PasswordTooWeak,
    PayPasswordInvalid,
    PayPasswordLocked,
    PayPasswordRequired,
    PermissionDenied,
    SettleCycleInvalid,
    UserExists,
    UserFrozen,
    UserNotFound,
    UserUnderage,
    WrongLoginPassword,
    WrongPayPassword,
)
from qianbao.members.identity import (
    ADULT_AGE_YEARS,
    age_years,
    check_phone,
    luhn_ok,
    mask_id_number,
    parse_id_number,
)
from qianbao.members.roles import ROLES
from qianbao.platform import global_cache
from qianbao.platform.clock import clock
from qianbao.platform.controls import REGISTRATIONS_PAUSED
from qianbao.platform.db import Row, Tx
from qianbao.platform.errors import Forbidden, InvalidArgument, NotFound, Unauthorized
from qianbao.platform.ids import bucket_for_key, new_id
from qianbao.platform.runtime import Platform

KYC_BASIC, KYC_CARD_VERIFIED, KYC_ENHANCED = 1, 2, 3


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def _hash_password(p: Platform, password: str) -> str:
    s = p.settings
    return _hasher(s.password_time_cost, s.password_memory_kib).hash(password)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _check_login_password(password: str) -> None:
    if not 8 <= len(password) <= 64 or password.isdigit() or password.isalpha():
        raise PasswordTooWeak("login password must be 8–64 characters with letters and digits")


def _check_pay_password(password: str) -> None:
    if len(password) != 6 or not password.isdigit() or len(set(password)) == 1:
        raise PayPasswordInvalid("payment password must be 6 digits, not all the same")


@dataclass(frozen=True)
class NewUser:
    name: str
    id_number: str
    phone: str
    login_password: str
    pay_password: str


def public_user(row: Row) -> dict[str, Any]:
    return {
        "user_id": row["id"],
        "name": row["name"],
        "phone": row["phone"][:3] + "****" + row["phone"][-4:],
        "id_number": row["id_number_masked"],
        "kyc_level": row["kyc_level"],
        "password_free_limit_fen": row["password_free_limit_fen"],
        "status": row["status"],
    }


def register_user(p: Platform, new: NewUser) -> Row:
    """Real-name registration: valid ID, adult, unique phone and ID; opens the wallet account."""
    p.controls.refuse_if_on(REGISTRATIONS_PAUSED)
    name = new.name.strip()
    if not 2 <= len(name) <= 60:
        raise NameInvalid("name must be 2–60 characters")
    today = clock.today()
    birth = parse_id_number(new.id_number, today)
    if age_years(birth, today) < ADULT_AGE_YEARS:
        raise UserUnderage("users must be 18 or older")
    phone = check_phone(new.phone)
    _check_login_password(new.login_password)
    _check_pay_password(new.pay_password)
    id_hash = hmac.new(
        p.settings.secret_key.encode(), new.id_number.upper().encode(), "sha256"
    ).hexdigest()
    user_id = new_id(bucket_for_key(phone))
    login_hash, pay_hash = (
        _hash_password(p, new.login_password),
        _hash_password(p, new.pay_password),
    )
    with p.global_db.transaction() as tx:
        clash = tx.one(
            "SELECT phone FROM users WHERE phone = :phone OR id_number_hash = :h",
            {"phone": phone, "h": id_hash},
        )
        if clash is not None:
            field = "phone" if clash["phone"] == phone else "ID number"
            raise UserExists(f"a user with this {field} already exists")
        tx.execute(
            "INSERT INTO users (id, name, id_number_hash, id_number_masked, birth_date, phone,"
            " login_hash, pay_hash, kyc_level, password_free_limit_fen, login_failures,"
            " login_locked_until_ms, pay_failures, pay_locked_until_ms, status, created_at_ms)"
            " VALUES (:id, :name, :h, :masked, :birth, :phone, :lh, :ph, :kyc, 0, 0, 0, 0, 0,"
            " 'ACTIVE', :now)",
            {
                "id": user_id,
                "name": name,
                "h": id_hash,
                "masked": mask_id_number(new.id_number.upper()),
                "birth": birth.isoformat(),
                "phone": phone,
                "lh": login_hash,
                "ph": pay_hash,
                "kyc": KYC_BASIC,
                "now": clock.now_ms(),
            },
        )
    open_user_accounts(p, user_id)
    user = get_user(p, user_id)
    for screen in p.registration_screens:  # members.ports.RegistrationScreen
        screen(user)
    return user


def open_user_accounts(p: Platform, user_id: str) -> None:
    p.writer_for(user_id).submit(opener(account_id("user_balance", user_id), user_id))


def get_user(p: Platform, user_id: str) -> Row:
    with p.global_db.read() as tx:
        row = tx.one("SELECT * FROM users WHERE id = :id", {"id": user_id})
    if row is None:
        raise UserNotFound(f"user {user_id} not found")
    return row


_USER_CACHE_MAX_AGE_MS = 60_000
_USER_CACHE_MAX = 200_000


def get_user_cached(p: Platform, user_id: str) -> Row:
    """The user as cached in ``p.user_cache`` (the hot payment path saves a global-database
    read), kept until a change drops it: this process's own changes (``_forget_user``) and, in
    the distributed mode, every process's (the ``users`` trigger's notice, ``global_cache``).
    An entry is at most a minute old, as a backstop for a change no notice reaches (another
    process on the same SQLite file, a notice missed while the listener reconnected). A row
    read while a change was being dropped is not kept (the generation moved meanwhile)."""
    now_ms = int(time.monotonic() * 1000)
    hit = p.user_cache.get(user_id)
    if hit is not None and 0 <= now_ms - hit[0] < _USER_CACHE_MAX_AGE_MS:
        return hit[1]
    generation = p.cache_generation
    row = get_user(p, user_id)
    if len(p.user_cache) >= _USER_CACHE_MAX:
        p.user_cache.clear()
    if p.cache_generation == generation:
        p.user_cache[user_id] = (now_ms, row)
    return row


def _forget_user(p: Platform, user_id: str) -> None:
    global_cache.forget(p, "users", user_id)


def find_user_by_phone(p: Platform, phone: str) -> Row:
    with p.global_db.read() as tx:
        row = tx.one("SELECT * FROM users WHERE phone = :phone", {"phone": phone})
    if row is None:
        raise UserNotFound("no user with this phone")
    return row


_LOCKED: dict[str, type[Forbidden]] = {"login": LoginPasswordLocked, "pay": PayPasswordLocked}
_WRONG: dict[str, type[Unauthorized]] = {"login": WrongLoginPassword, "pay": WrongPayPassword}


def _verify_with_lockout(p: Platform, user: Row, password: str, kind: str) -> None:
    """Verify ``kind`` ('login' or 'pay'); too many failures lock that credential for a while."""
    now_ms = clock.now_ms()
    if user[f"{kind}_locked_until_ms"] > now_ms:
        raise _LOCKED[kind](f"{kind} password locked after too many failures, try later")
    s = p.settings
    try:
        _hasher(s.password_time_cost, s.password_memory_kib).verify(user[f"{kind}_hash"], password)
    except VerificationError:
        failures = _count_failure(p, user["id"], kind, now_ms)
        left = s.password_max_failures - failures
        raise _WRONG[kind](
            f"wrong {kind} password" + (f", {left} tries left" if left > 0 else ", now locked")
        ) from None
    if user[f"{kind}_failures"]:
        with p.global_db.transaction() as tx:
            tx.execute(f"UPDATE users SET {kind}_failures = 0 WHERE id = :id", {"id": user["id"]})


@dataclass(frozen=True)
class LoggedIn:
    token: str
    session_id: str
    user: Row
    device_token: str  # the client keeps it: a known device skips the per-phone login delay


# A hash verified when the phone is unknown, so a wrong phone costs the same time as a wrong
# password (no user enumeration by timing).
_DUMMY_HASHES: dict[tuple[int, int], str] = {}


def _login_password_ok(p: Platform, user: Row | None, password: str) -> bool:
    s = p.settings
    hasher = _hasher(s.password_time_cost, s.password_memory_kib)
    if user is None:
        shape = (s.password_time_cost, s.password_memory_kib)
        dummy = _DUMMY_HASHES.get(shape) or _DUMMY_HASHES.setdefault(shape, hasher.hash("x1"))
        with contextlib.suppress(VerificationError):
            hasher.verify(dummy, password + "\0")
        return False
    try:
        return bool(hasher.verify(user["login_hash"], password))
    except VerificationError:
        return False


def hash_login_password(p: Platform, password: str) -> str:
    """A login password checked for strength (as users' are) and hashed with argon2: for other
    members that sign in with a password (merchants, ``onboarding/logins.py``)."""
    _check_login_password(password)
    return _hash_password(p, password)


def password_matches(p: Platform, stored_hash: str | None, password: str) -> bool:
    """Verify against ``stored_hash``; ``None`` (no such login) costs the same time."""
    row = None if stored_hash is None else {"login_hash": stored_hash}
    return _login_password_ok(p, row, password)


def log_in(
    p: Platform, phone: str, password: str, client: sessions.Client | None = None
) -> LoggedIn:
    """Open a session: throttled per phone and address with growing delays (``throttle.py``),
    never a lockout of the account."""
    client = client or sessions.Client()
    try:
        user: Row | None = find_user_by_phone(p, phone)
    except NotFound:
        user = None
    known = user is not None and sessions.device_known(p, user["id"], client.device_token)
    keys = throttle.keys(p.settings, phone, client.ip, known_device=known)
    now_ms = clock.now_ms()
    throttle.check(p, keys, now_ms)
    if user is None or not _login_password_ok(p, user, password):
        throttle.failed(p, keys, now_ms)
        raise WrongLoginPassword("wrong phone or password")
    throttle.succeeded(p, keys)
    if not known and p.settings.step_up_enabled:  # a new device: the phone must answer too
        if not client.challenge_id:
            raise stepup.challenge(p, user["id"], stepup.NEW_DEVICE)
        stepup.answer_inline(p, user["id"], stepup.NEW_DEVICE, client.challenge_id, client.code)
    token, session_id = sessions.open_session(p, user["id"], client, now_ms)
    device = sessions.remember_device(p, user["id"], client.device_token, now_ms)
    return LoggedIn(token, session_id, user, device)


def login(p: Platform, phone: str, password: str) -> tuple[str, Row]:
    """Returns a bearer token for the user (``log_in`` with no client information)."""
    done = log_in(p, phone, password)
    return done.token, done.user


def user_for_token(p: Platform, token: str) -> str:
    """The user of a live token (``sessions.user_for_token``: cached until expiry, dropped by a
    revocation in any process within a second)."""
    return sessions.user_for_token(p, token)


def authorize_payment(p: Platform, user_id: str, amount_fen: int, pay_password: str | None) -> Row:
    """The payment password, unless the amount is within the user's password-free limit.

    A password-free payment reads the user through the cache (``get_user_cached``); a payment
    with a password reads it fresh, as the lockout needs."""
    user = get_user_cached(p, user_id) if pay_password is None else get_user(p, user_id)
    if user["status"] != "ACTIVE":
        raise UserFrozen("user is not active")
    if pay_password is None:
        if amount_fen <= user["password_free_limit_fen"]:
            return user
        raise PayPasswordRequired("payment password required")
    _verify_with_lockout(p, user, pay_password, "pay")
    stepup.require_for_payment(p, user_id, amount_fen)  # a large payment: the phone's code too
    return user


def _count_failure(p: Platform, user_id: str, kind: str, now_ms: int) -> int:
    """Count a wrong password atomically (concurrent wrong tries all count) and lock the
    credential when the count reaches the limit. Returns the count including this one."""
    s = p.settings
    with p.global_db.transaction() as tx:
        tx.execute(
            f"UPDATE users SET {kind}_failures = {kind}_failures + 1 WHERE id = :id",
            {"id": user_id},
        )
        failures = int(
            tx.scalar(f"SELECT {kind}_failures FROM users WHERE id = :id", {"id": user_id})
        )
        if failures >= s.password_max_failures:
            tx.execute(
                f"UPDATE users SET {kind}_failures = 0, {kind}_locked_until_ms = :until"
                " WHERE id = :id",
                {"until": now_ms + s.password_lock_minutes * 60_000, "id": user_id},
            )
    return failures


def set_password_free_limit(p: Platform, user_id: str, limit_fen: int, pay_password: str) -> None:
    if not 0 <= limit_fen <= 200_000:
        raise InvalidArgument("password-free limit must be 0–2000.00 CNY")
    _verify_with_lockout(p, get_user(p, user_id), pay_password, "pay")
    with p.global_db.transaction() as tx:
        tx.execute(
            "UPDATE users SET password_free_limit_fen = :l WHERE id = :id",
            {"l": limit_fen, "id": user_id},
        )
    _forget_user(p, user_id)


# --- bank cards ----------------------------------------------------------------------------
def bind_card(p: Platform, user_id: str, card_no: str, channel: str = "SIMBANK") -> Row:
    """Bind a card the bank confirms is the user's; a first card lifts KYC to level 2."""
    card_no = card_no.replace(" ", "")
    if not luhn_ok(card_no):
        raise CardInvalid("card number fails the Luhn check")
    if channel not in p.channels:
        raise ChannelUnknown(f"unknown channel {channel}")
    user = get_user(p, user_id)
    stepup.require(p, user_id, stepup.BIND_CARD)  # a new card: the phone's code too
    p.channels[channel].verify_card(card_no, user["name"])
    card_id = new_id(bucket_for_key(user_id))
    sealed = vault.seal_card(p, user_id, card_no)  # only a token and the last four in clear
    with p.global_db.transaction() as tx:
        tx.execute(
            "INSERT INTO bank_cards (id, user_id, channel, card_token, card_last4, card_cipher,"
            " card_masked, status, created_at_ms) VALUES (:id, :u, :ch, :token, :last4, :cipher,"
            " :masked, 'BOUND', :now) ON CONFLICT (user_id, card_token) DO NOTHING",
            {
                "id": card_id,
                "u": user_id,
                "ch": channel,
                "token": sealed.token,
                "last4": sealed.last4,
                "cipher": sealed.cipher,
                "masked": sealed.masked,
                "now": clock.now_ms(),
            },
        )
        tx.execute(
            "UPDATE users SET kyc_level = :l WHERE id = :id AND kyc_level < :l",
            {"l": KYC_CARD_VERIFIED, "id": user_id},
        )
        row = tx.one(
            "SELECT * FROM bank_cards WHERE user_id = :u AND card_token = :t",
            {"u": user_id, "t": sealed.token},
        )
    _forget_user(p, user_id)  # the KYC level may have risen
    assert row is not None
    return row


def list_cards(p: Platform, user_id: str) -> list[Row]:
    with p.global_db.read() as tx:
        return tx.all(
            "SELECT * FROM bank_cards WHERE user_id = :u AND status = 'BOUND'"
            " ORDER BY created_at_ms",
            {"u": user_id},
        )


def get_card(p: Platform, user_id: str, card_id: str) -> Row:
    with p.global_db.read() as tx:
        row = tx.one(
            "SELECT * FROM bank_cards WHERE id = :id AND user_id = :u AND status = 'BOUND'",
            {"id": card_id, "u": user_id},
        )
    if row is None:
        raise CardNotFound("no such bound card")
    return row


def public_card(row: Row) -> dict[str, Any]:
    return {"card_id": row["id"], "channel": row["channel"], "card": row["card_masked"]}


# --- merchants, operators, API keys ----------------------------------------------------------
def _new_key(tx: Tx, owner_type: str, owner_id: str) -> str:
    return credentials.issue(tx, owner_type, owner_id)


def parse_rate(text: str | Decimal) -> Decimal:
    try:
        rate = Decimal(str(text))
    except InvalidOperation as exc:
        raise InvalidArgument(f"rate {text!r} is not a decimal") from exc
    if not Decimal(0) <= rate < Decimal("0.1"):
        raise FeeRateInvalid("fee rate must be between 0 and 0.1")
    return rate


def create_merchant(p: Platform, name: str, fee_rate: Decimal | None = None) -> tuple[Row, str]:
    """A merchant with a contract fee rate, a sub-account in every unit and an API key."""
    name = name.strip()
    if not 2 <= len(name) <= 80:
        raise InvalidArgument("merchant name must be 2–80 characters")
    rate = parse_rate(fee_rate if fee_rate is not None else p.settings.merchant_fee_rate)
    merchant_id = new_id(bucket_for_key(name))
    with p.global_db.transaction() as tx:
        if tx.one("SELECT 1 AS x FROM merchants WHERE name = :n", {"n": name}):
            raise MerchantExists(f"merchant {name!r} exists")
        tx.execute(
            "INSERT INTO merchants (id, name, fee_rate, status, created_at_ms)"
            " VALUES (:id, :n, :r, 'ACTIVE', :now)",
            {"id": merchant_id, "n": name, "r": str(rate), "now": clock.now_ms()},
        )
        api_key = _new_key(tx, "merchant", merchant_id)
    for unit, writer in enumerate(p.writers):
        writer.submit(opener(merchant_account(merchant_id, unit), merchant_id))
    return get_merchant(p, merchant_id), api_key


SETTLE_CYCLES = ("INSTANT", "T1")


def set_settle_cycle(p: Platform, merchant_id: str, cycle: str) -> Row:
    """The operator changes the settlement cycle of a merchant's contract. New trade money follows
    the new cycle; money already waiting for a T+1 settlement is still settled at day end."""
    cycle = cycle.strip().upper()
    if cycle not in SETTLE_CYCLES:
        raise SettleCycleInvalid("settlement cycle must be INSTANT or T1")
    with p.global_db.transaction() as tx:
        if not tx.execute(
            "UPDATE merchants SET settle_cycle = :c WHERE id = :id", {"c": cycle, "id": merchant_id}
        ):
            raise MerchantNotFound(f"merchant {merchant_id} not found")
    p.merchant_cache.pop(merchant_id, None)
    return get_merchant(p, merchant_id)


def merchant_account(merchant_id: str, unit: int) -> str:
    """A merchant's settlement sub-account in ``unit`` (payments never cross units)."""
    return account_id("merchant_balance", f"{merchant_id}@u{unit}")


def get_merchant(p: Platform, merchant_id: str) -> Row:
    with p.global_db.read() as tx:
        row = tx.one("SELECT * FROM merchants WHERE id = :id", {"id": merchant_id})
    if row is None:
        raise MerchantNotFound(f"merchant {merchant_id} not found")
    return row


_MERCHANT_CACHE_TTL_MS = 5_000


def get_merchant_cached(p: Platform, merchant_id: str) -> Row:
    """Merchants change rarely: the payment path reads them through a 5-second cache
    (``p.merchant_cache``)."""
    now_ms = int(time.monotonic() * 1000)
    hit = p.merchant_cache.get(merchant_id)
    if hit is not None and 0 <= now_ms - hit[0] < _MERCHANT_CACHE_TTL_MS:
        return hit[1]
    row = get_merchant(p, merchant_id)
    p.merchant_cache[merchant_id] = (now_ms, row)
    return row


def list_merchants(p: Platform) -> list[Row]:
    with p.global_db.read() as tx:
        return tx.all("SELECT * FROM merchants ORDER BY created_at_ms")


def create_operator(p: Platform, name: str, role: str) -> tuple[Row, str]:
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {sorted(ROLES)}")
    operator_id = new_id(bucket_for_key(name))
    with p.global_db.transaction() as tx:
        if tx.one("SELECT 1 AS x FROM operators WHERE name = :n", {"n": name}):
            raise OperatorExists(f"operator {name!r} exists")
        tx.execute(
            "INSERT INTO operators (id, name, role, created_at_ms) VALUES (:id, :n, :r, :now)",
            {"id": operator_id, "n": name, "r": role, "now": clock.now_ms()},
        )
        api_key = _new_key(tx, "operator", operator_id)
        row = tx.one("SELECT * FROM operators WHERE id = :id", {"id": operator_id})
    assert row is not None
    return row, api_key


@dataclass(frozen=True)
class Principal:
    kind: str  # merchant | operator
    id: str
    role: str = ""

    def require(self, permission: str) -> None:
        if permission not in ROLES.get(self.role, set()):
            raise PermissionDenied(f"role {self.role!r} may not {permission}")


def principal_for_key(p: Platform, api_key: str) -> Principal:
    """The merchant or operator of a live key (``credentials.owner_of_key``: rotated keys work
    through their overlap window, revoked ones are refused by every process within a second)."""
    owner = credentials.owner_of_key(p, api_key)
    role = ""
    if owner.kind == "operator":
        with p.global_db.read() as tx:
            role = member_store.operator_role(tx, owner.id)
    return Principal(owner.kind, owner.id, role)


def operator_of_session(p: Platform, value: str) -> Principal | None:
    """The operator whose back office session cookie this is (``credentials.web_session`` with
    ``OPS_WEB``), while it is fresh and their key is live; None otherwise."""
    owner = credentials.owner_of_web_session(p, value, credentials.OPS_WEB)
    if owner is None or owner.kind != "operator":
        return None
    with p.global_db.read() as tx:
        role = member_store.operator_role(tx, owner.id)
    return Principal(owner.kind, owner.id, role)


def birth_date_of(user: Row) -> date:
    return date.fromisoformat(user["birth_date"])
