"""The features of one movement, computed from the unit's counters (the model's inputs and the
simulator's too: training, evaluation and the live path share this one function)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qianbao.platform import ids
from qianbao.risk.counters import GET, Event, Look

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
PAYEE_WINDOW_MS = 7 * DAY_MS  # the payee-side window of a transfer (the counters keep it)
LIMITS_FEN = (500_000, 1_000_000, 2_000_000, 5_000_000)  # round amounts people stay under
NAMES = (
    "log_amount",
    "amount_ratio",
    "user_count_1h",
    "user_count_24h",
    "user_sum_24h",
    "payee_new",
    "device_new",
    "ip_new",
    "payee_fanin_24h",
    "device_users_24h",
    "ip_users_24h",
    "inflow_24h",
    "inflow_fanin_24h",
    "cycle_24h",
    "near_limit",
    "near_limit_24h",
    "minutes_since_last",
    "is_transfer",
    "is_withdraw",
    "is_huabei",
    "night",
    "no_history",
    "round_amount",
    "merchant_cash_like",
    "new_device_new_payee",
    "new_payee_amount",
    "fast_pass_through",
    "shared_device_huabei",
    "payee_known_days",
    "pair_count_7d",
    "pair_sum_7d",
    "payee_payers_7d",
    "payee_seen_days",
    "payee_new_payers_7d",
    "payee_new_repeat_payers_7d",
    "payee_age_days",
    "small_round",
)
CASH_LIKE = frozenset({"cash_like", "precious_metals", "gambling"})


@dataclass(frozen=True, slots=True)
class Known:
    """What a user is known by before this movement."""

    has_history: bool
    device_known: bool
    ip_known: bool
    payee_known: bool = False
    payee_first_ms: int | None = None  # when the user first paid this payee (known payees)


NEAR_LOW_FEN, NEAR_HIGH_FEN = int(0.9 * min(LIMITS_FEN)), max(LIMITS_FEN)


def near_limit(amount_fen: int) -> bool:
    if amount_fen < NEAR_LOW_FEN or amount_fen >= NEAR_HIGH_FEN:  # most amounts: one test
        return False
    return any(0.9 * limit <= amount_fen < limit for limit in LIMITS_FEN)


_AMOUNT = GET["amount_fen"]


def near_limits(events: Iterable[Event]) -> int:
    """How many of ``events`` are ``near_limit`` (most amounts fail its first test: inlined)."""
    low, high = NEAR_LOW_FEN, NEAR_HIGH_FEN
    return sum(1 for a in map(_AMOUNT, events) if low <= a < high and near_limit(a))


FirstPaid = Callable[[str, str], "int | None"]  # (payer, payee) -> when first paid, if ever


def compute(
    look: Look,
    e: Event,
    funding: str,
    known: Known,
    category: str = "",
    first_paid: FirstPaid | None = None,
) -> list[float]:
    now = e.at_ms
    user_day = look("user", e.user, DAY_MS)
    user_hour = look("user", e.user, HOUR_MS)
    events = user_day.events
    mean = (user_day.sum_fen / user_day.count) if user_day.count else 0.0
    fanin = look("payee", e.payee, DAY_MS)
    device = look("device", e.device, DAY_MS)
    ip = look("ip", e.ip, DAY_MS)
    inflow = look("payee", e.user, DAY_MS)
    back = look("user", e.payee, DAY_MS)
    last = events[-1].at_ms if events else None
    hour = (now // HOUR_MS + 8) % 24  # Asia/Shanghai
    log_amount = math.log1p(e.amount_fen / 100)
    payee_new = float(known.has_history and e.kind != "WITHDRAW" and not known.payee_known)
    device_new = float(known.has_history and bool(e.device) and not known.device_known)
    minutes = (now - last) / 60_000 if last is not None else 1e9
    shared = device.distinct("user", e.user)
    return [
        log_amount,
        math.log1p(e.amount_fen / mean) if mean else 1.0,
        float(user_hour.count),
        math.log1p(user_day.count),
        math.log1p(user_day.sum_fen / 100),
        payee_new,
        device_new,
        float(known.has_history and bool(e.ip) and not known.ip_known),
        math.log1p(fanin.distinct("user", e.user)),
        float(shared),
        math.log1p(ip.distinct("user", e.user)),
        math.log1p(inflow.count),
        math.log1p(len(inflow.values("user"))),
        float(sum(1 for x in back.events or () if x.payee == e.user)),
        float(near_limit(e.amount_fen)),
        float(near_limits(events)),
        math.log1p(min((now - last) / 60_000, 10_000)) if last is not None else 10.0,
        float(e.kind == "TRANSFER"),
        float(e.kind == "WITHDRAW"),
        float(funding == "HUABEI"),
        float(hour < 6),
        float(not known.has_history),
        float(e.amount_fen >= 100_000 and not 500 <= e.amount_fen % 10_000 < 9_500),
        float(category in CASH_LIKE),
        device_new * payee_new,
        payee_new * log_amount,
        float(inflow.count > 0 and minutes < 60 and e.kind != "PAY"),
        float(shared > 0 and funding == "HUABEI"),
        *(_to_payee(look, e, known, first_paid) if e.kind == "TRANSFER" else NO_PAYEE),
    ]


NO_PAYEE = (0.0,) * 9
AGE_MAX_DAYS = 400.0  # an account older than this is just "old"


def _to_payee(
    look: Look, e: Event, known: Known, first_paid: FirstPaid | None
) -> tuple[float, ...]:
    """A transfer's relation to its payee, over the payee's last ``PAYEE_WINDOW_MS`` in this
    unit: how long the payer has known the payee, what they sent them lately, how many other
    payers paid them, how many of those for the first time in the window (the unit's profiles
    say when each first did) and how many of these new ones paid more than once, how long money
    has been coming to them at all, how old the payee's account is (its id carries its creation
    time), a small round sum. (A scam's grooming transfers go to a young account met days ago
    that other newcomers pay again and again; a seller's buyers mostly pay once.)"""
    first = known.payee_first_ms
    days_known = min((e.at_ms - first) / DAY_MS, 60.0) if first is not None else 0.0
    window = look("payee", e.payee, PAYEE_WINDOW_MS)
    events = window.events
    if window.count > len(events):  # more than the newest events hold: seen all along
        seen_days = PAYEE_WINDOW_MS / DAY_MS
    else:
        seen_days = (e.at_ms - events[0].at_ms) / DAY_MS if events else 0.0
    me = e.user
    pair_sum = 0
    paid: dict[str, int] = {}  # other payer -> transfers in the window
    for x in events:
        if x.user == me:
            pair_sum += x.amount_fen
        else:
            paid[x.user] = paid.get(x.user, 0) + 1
    since = e.at_ms - PAYEE_WINDOW_MS
    fresh = again = 0
    if first_paid is not None:
        for user, times in paid.items():
            first_ms = first_paid(user, e.payee)
            if first_ms is not None and first_ms > since:
                fresh += 1
                again += times > 1
    opened = ids.created_ms(e.payee)  # the id says when the account was opened
    age = -1.0 if opened is None else min(max(e.at_ms - opened, 0) / DAY_MS, AGE_MAX_DAYS)
    return (
        days_known,
        float(len(events) - sum(paid.values())),
        math.log1p(pair_sum / 100),
        math.log1p(len(paid)),
        seen_days,
        math.log1p(fresh),
        math.log1p(again),
        age,
        float(e.amount_fen < 100_000 and e.amount_fen % 1_000 == 0),
    )
