"""The features of one movement, computed from the unit's counters (the model's inputs and the
simulator's too: training, evaluation and the live path share this one function)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from qianbao.platform import ids
from qianbao.risk.counters import (
    GET,
    NEAR_HIGH_FEN,
    NEAR_LOW_FEN,
    Event,
    Look,
    near_limit,
)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
PAYEE_WINDOW_MS = 7 * DAY_MS  # the payee-side window of a transfer (the counters keep it)
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


class Known(NamedTuple):
    """What a user is known by before this movement (a tuple: one is made every decision)."""

    has_history: bool
    device_known: bool
    ip_known: bool
    payee_known: bool = False
    payee_first_ms: int | None = None  # when the user first paid this payee (known payees)


_AMOUNT = GET["amount_fen"]


def near_limits(events: Iterable[Event]) -> int:
    """How many of ``events`` are ``near_limit`` (most amounts fail its first test: inlined)."""
    low, high = NEAR_LOW_FEN, NEAR_HIGH_FEN
    return sum(1 for a in map(_AMOUNT, events) if low <= a < high and near_limit(a))


FirstPaid = Callable[[str, str], "int | None"]  # (payer, payee) -> when first paid, if ever


class Payer(NamedTuple):
    """One transfer to a payee as its home unit saw it: when, from whom, and when that payer
    first paid the payee (-1: unknown)."""

    at_ms: int
    payer: str
    first_ms: int


@dataclass(frozen=True, slots=True)
class PayeeView:
    """What a payee's home unit knows of the transfers to it (``risk/payees.py`` sends it to the
    other units): as of ``as_of_ms``, ``count`` transfers in the last ``PAYEE_WINDOW_MS``, the
    newest of them (at most ``DISTINCT_EVENTS_MAX``, oldest first) in ``payers``."""

    as_of_ms: int
    count: int
    payers: tuple[Payer, ...]
    # payer -> (its transfers in ``payers``, first paid, oldest and newest ms): made once
    by_payer: dict[str, tuple[int, int, int, int]] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        by_payer: dict[str, tuple[int, int, int, int]] = {}
        for at_ms, payer, first_ms in self.payers:
            held = by_payer.get(payer)
            if held is None:
                by_payer[payer] = (1, first_ms, at_ms, at_ms)
            else:
                times, first, oldest, newest = held
                first = first_ms if first < 0 else first
                by_payer[payer] = (times + 1, first, min(oldest, at_ms), max(newest, at_ms))
        object.__setattr__(self, "by_payer", by_payer)

    def since(self, payer: str, since_ms: int) -> tuple[int, int]:
        """``payer``'s transfers after ``since_ms`` and the oldest of them (ms)."""
        times = [p.at_ms for p in self.payers if p.payer == payer and p.at_ms > since_ms]
        return len(times), min(times)


def compute(
    look: Look,
    e: Event,
    funding: str,
    known: Known,
    category: str = "",
    first_paid: FirstPaid | None = None,
    view: PayeeView | None = None,
) -> list[float]:
    """``view``: the payee's home unit's view of a transfer's payee, when it lives in another
    unit (its payers from every unit, a little late; ``risk/payees.py``)."""
    now = e.at_ms
    user_day = look("user", e.user, DAY_MS)
    user_hour = look("user", e.user, HOUR_MS)
    newest = user_day.newest()
    mean = (user_day.sum_fen / user_day.count) if user_day.count else 0.0
    fanin = look("payee", e.payee, DAY_MS)
    device = look("device", e.device, DAY_MS)
    ip = look("ip", e.ip, DAY_MS)
    inflow = look("payee", e.user, DAY_MS)
    back = look("user", e.payee, DAY_MS)
    last = newest.at_ms if newest is not None else None
    hour = (now // HOUR_MS + 8) % 24  # Asia/Shanghai
    log_amount = math.log1p(e.amount_fen / 100)
    payee_new = float(known.has_history and e.kind != "WITHDRAW" and not known.payee_known)
    device_new = float(known.has_history and bool(e.device) and not known.device_known)
    minutes = (now - last) / 60_000 if last is not None else 1e9
    shared = device.distinct("user", e.user)
    payers_24h = fanin.distinct("user", e.user)
    if view is not None and view.as_of_ms > now - DAY_MS and e.kind == "TRANSFER":
        payers_24h = view_fanin(view, fanin.events, e.user, now - DAY_MS)
    return [
        log_amount,
        math.log1p(e.amount_fen / mean) if mean else 1.0,
        float(user_hour.count),
        math.log1p(user_day.count),
        math.log1p(user_day.sum_fen / 100),
        payee_new,
        device_new,
        float(known.has_history and bool(e.ip) and not known.ip_known),
        math.log1p(payers_24h),
        float(shared),
        math.log1p(ip.distinct("user", e.user)),
        math.log1p(inflow.count),
        math.log1p(len(inflow.values("user"))),
        float(sum(1 for x in back.events or () if x.payee == e.user)),
        float(near_limit(e.amount_fen)),
        float(user_day.near_limits()),
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
        *(_to_payee(look, e, known, first_paid, view) if e.kind == "TRANSFER" else NO_PAYEE),
    ]


NO_PAYEE = (0.0,) * 9
AGE_MAX_DAYS = 400.0  # an account older than this is just "old"


def _to_payee(
    look: Look, e: Event, known: Known, first_paid: FirstPaid | None, view: PayeeView | None
) -> tuple[float, ...]:
    """A transfer's relation to its payee, over the payee's last ``PAYEE_WINDOW_MS``: how long
    the payer has known the payee, what they sent them lately, how many other payers paid them,
    how many of those for the first time in the window (when each first did: the unit's
    profiles, or the payee's home unit's ``view``) and how many of these new ones paid more than
    once, how long money has been coming to them at all, how old the payee's account is (its id
    carries its creation time), a small round sum. (A scam's grooming transfers go to a young
    account met days ago that other newcomers pay again and again; a seller's buyers mostly pay
    once.) The payee's transfers are this unit's and, when the payee lives in another unit, its
    home unit's ``view`` of them, each transfer counted once."""
    first = known.payee_first_ms
    days_known = min((e.at_ms - first) / DAY_MS, 60.0) if first is not None else 0.0
    since = e.at_ms - PAYEE_WINDOW_MS
    window = look("payee", e.payee, PAYEE_WINDOW_MS)
    events = window.events
    oldest = events[0].at_ms if events else e.at_ms
    all_along = window.count > len(events)  # more than the newest events hold: seen all along
    me = e.user
    pair_count = pair_sum = 0
    paid: dict[str, int] = {}  # other payer -> transfers in the window
    firsts: dict[str, int] = {}  # other payer -> when first paid, from the view
    for x in events:
        if x.user == me:
            pair_count += 1
            pair_sum += x.amount_fen
        else:
            paid[x.user] = paid.get(x.user, 0) + 1
    if view is not None and view.as_of_ms > since:
        oldest, all_along = _merge(view, me, since, paid, firsts, oldest, all_along)
    seen_days = PAYEE_WINDOW_MS / DAY_MS if all_along else (e.at_ms - oldest) / DAY_MS
    fresh = again = 0
    for user, times in paid.items():
        first_ms = firsts.get(user)  # another unit's payer: as its view says
        if first_ms is None and first_paid is not None:
            first_ms = first_paid(user, e.payee)
        if first_ms is not None and first_ms > since:
            fresh += 1
            again += times > 1
    opened = ids.created_ms(e.payee)  # the id says when the account was opened
    age = -1.0 if opened is None else min(max(e.at_ms - opened, 0) / DAY_MS, AGE_MAX_DAYS)
    return (
        days_known,
        float(pair_count),
        math.log1p(pair_sum / 100),
        math.log1p(len(paid)),
        seen_days,
        math.log1p(fresh),
        math.log1p(again),
        age,
        float(e.amount_fen < 100_000 and e.amount_fen % 1_000 == 0),
    )


def _merge(
    view: PayeeView,
    me: str,
    since: int,
    paid: dict[str, int],
    firsts: dict[str, int],
    oldest: int,
    all_along: bool,
) -> tuple[int, bool]:
    """Add the home unit's ``view`` to the other payers ``paid`` counted in this unit: each
    payer it names that this unit's counters do not (a payer seen here is one of this unit's,
    whose transfers are all decided, and counted, here), with its transfers still in the window
    and its first payment (into ``firsts``). The window's oldest transfer and whether it held
    more than its newest, with the view's."""
    local = paid.copy()
    for payer, (times, first_ms, oldest_ms, newest_ms) in view.by_payer.items():
        if newest_ms <= since or payer == me or payer in local:
            continue
        if oldest_ms <= since:  # some of its transfers have left the window
            times, oldest_ms = view.since(payer, since)
        paid[payer] = times
        if first_ms >= 0:
            firsts[payer] = first_ms
        oldest = min(oldest, oldest_ms)
    return oldest, all_along or (view.count > len(view.payers) and view.as_of_ms > since)


def view_fanin(view: PayeeView, events: Iterable[Event], me: str, since_ms: int) -> int:
    """The distinct other payers since ``since_ms`` among a payee's ``events`` here and its home
    unit's ``view``."""
    payers = {x.user for x in events if x.user != me}
    return len(payers) + sum(
        1
        for payer, (_, _, _, newest_ms) in view.by_payer.items()
        if newest_ms > since_ms and payer != me and payer not in payers
    )
