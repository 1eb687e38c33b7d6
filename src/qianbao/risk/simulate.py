"""A fraud simulator: a population of users and merchants living ordinary days, with fraud
typologies injected among them — the data the model is trained on and evaluated against.

Normal life: each user has a home city, one or two devices (some shared within a family), a
home IP and mobile IPs, a rhythm (payments a day), a usual spend, favourite merchants, friends
they transfer to, occasional withdrawals and top-ups, Huabei for some purchases, payments a
merchant initiates (no device of theirs), trips (by plane, so far but not impossibly fast), a
phone replaced now and then, and a big purchase now and then; transfers mostly to friends,
some small ones to sellers (a second-hand sale, a tutor: 2 % of users, paid by many first-time
payers) and to somebody new (who often becomes a friend paid again), a quarter in round sums.
1 % more users sign up every day, with no history at all, each invited by one or two users who
pay them as a friend from then on. Ids are made as the platform's (``platform/ids.py``: the
creation time, then a bucket), so an account's age is in its id: the first users' accounts are
8 days to 4 years old. What the platform knew of them before the period (devices, IPs, friends,
first seen months ago) is ``World.history``.

Typologies (``TYPOLOGIES``), each from an ordinary-looking account:

- ``account_takeover``: a stranger's device and IP in another city drains the wallet to a fresh
  payee in a few transfers, then withdraws;
- ``app_scam``: a scammer's account (mostly fresh) grooms several victims over a few days, each
  on their own phone sending it small, growing sums (labelled ``app_scam_grooming``, reported
  apart) before most send one or two large ones;
- ``mule``: an account collects transfers from many payers and passes them on within hours;
- ``structuring``: transfers and withdrawals kept just under round limits, several a day;
- ``huabei_cashout``: Huabei at a colluding merchant that pays the user back within the day
  (套现), on a device the merchant's operator shares;
- ``fake_trades``: a ring of accounts on a few shared devices and one subnet pays one merchant
  similar amounts in bursts (刷单).

No label leaks: every id has the same shape and comes from the same generator, nobody's balance
is modelled (so none "goes to zero"), and each feature a typology shows also occurs in normal
life (new devices, travel, big purchases, fresh payees, shared devices, cash-like merchants).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from qianbao.money_movement.context import RequestContext
from qianbao.money_movement.ports import Movement

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MIN_MS = 60_000
T0_MS = 1_798_761_600_000  # 2027-01-01 00:00 UTC: simulated time starts here
CITIES = [
    (31.23, 121.47),
    (39.90, 116.40),
    (23.13, 113.26),
    (22.54, 114.06),
    (30.57, 104.07),
    (30.27, 120.15),
    (34.34, 108.94),
    (29.56, 106.55),
    (32.06, 118.80),
    (30.59, 114.31),
    (36.07, 120.38),
    (38.04, 114.51),
    (28.23, 112.94),
    (25.04, 102.71),
    (45.80, 126.53),
    (43.83, 87.62),
    (26.08, 119.30),
    (36.65, 117.12),
    (41.80, 123.43),
    (22.82, 108.32),
]
CATEGORIES = [
    ("grocery", 0.30),
    ("restaurant", 0.25),
    ("ecommerce", 0.20),
    ("transport", 0.08),
    ("electronics", 0.06),
    ("medical", 0.05),
    ("cash_like", 0.04),
    ("precious_metals", 0.02),
]
TYPOLOGIES = (
    "account_takeover",
    "app_scam",
    "mule",
    "structuring",
    "huabei_cashout",
    "fake_trades",
)
GROOMING = "app_scam_grooming"
DECEIVED = frozenset({"app_scam", GROOMING})  # sent by a deceived owner (who answers a step-up)


@dataclass(frozen=True, slots=True)
class SimEvent:
    at_ms: int
    movement: Movement
    context: RequestContext
    label: str = ""  # "" for a legitimate movement, else the typology
    warmup: bool = False  # history before the period measured (replayed, not reported)


@dataclass
class User:
    id: str
    home: tuple[float, float]
    devices: list[str]
    ips: list[str]
    rate_per_day: float
    spend_fen: float
    favourites: list[str] = field(default_factory=list)
    friends: list[str] = field(default_factory=list)
    huabei: bool = False
    card: str = ""  # the bound bank card withdrawals go to


@dataclass
class Merchant:
    id: str
    category: str
    popularity: float


class World:
    """The population and the generator (one ``random.Random`` from the seed)."""

    def __init__(self, seed: int, users: int, merchants: int) -> None:
        self.rng = random.Random(seed)
        self.merchants = [self._merchant() for _ in range(merchants)]
        weights = [m.popularity for m in self.merchants]
        self.users = [self._user() for _ in range(users)]
        for u in self.users:
            u.favourites = self.rng.choices([m.id for m in self.merchants], weights, k=6)
            u.friends = [self.rng.choice(self.users).id for _ in range(self.rng.randint(1, 5))]
            u.friends = [f for f in u.friends if f != u.id]
        for a, b in zip(self.users[::37], self.users[1::37], strict=False):  # families
            b.devices.append(a.devices[0])
        self.categories = {m.id: m.category for m in self.merchants}
        self.sellers = [u.id for u in self.rng.sample(self.users, max(1, users // 50))]
        self.history = [  # what the platform knew of each user before the simulation began
            (u.id, kind, value, T0_MS - self.rng.randint(8, 900) * DAY_MS)
            for u in self.users
            for kind, values in (("DEVICE", u.devices), ("IP", u.ips), ("PAYEE", u.friends))
            for value in values
        ]

    def join(self, day_ms: int) -> User:
        """A user signing up today: no history at all, an ordinary life from now on, invited by
        one or two users who count them among their friends from now on (and pay them)."""
        u = self._user(day_ms + self.rng.randint(0, DAY_MS // 2))
        weights = [m.popularity for m in self.merchants]
        u.favourites = self.rng.choices([m.id for m in self.merchants], weights, k=6)
        u.friends = [self.rng.choice(self.users).id for _ in range(self.rng.randint(1, 3))]
        for inviter in self.rng.sample(self.users, self.rng.randint(1, 2)):
            inviter.friends.append(u.id)
        self.users.append(u)
        if self.rng.random() < 0.03:  # a new seller: young, and many first-time payers
            self.sellers.append(u.id)
        return u

    def new_id(self, created_ms: int) -> str:
        """An id as the platform makes them (``platform/ids.py``): the creation time in
        microseconds, then a route bucket. So an account's age is in its id, for everyone."""
        return f"{created_ms * 1000 + self.rng.randrange(1000):016d}{self.rng.randrange(100):02d}"

    def fresh_id(self, at_ms: int, max_days: int) -> str:
        """An account opened in the ``max_days`` before ``at_ms`` (a thief's, a scammer's)."""
        return self.new_id(at_ms - self.rng.randint(0, max_days * DAY_MS))

    def old_ms(self) -> int:
        """When an account of the platform's first users was opened (8 days to 4 years ago)."""
        return T0_MS - self.rng.randint(8, 1500) * DAY_MS

    def device(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def ip(self, subnet: str | None = None) -> str:
        r = self.rng
        if subnet:
            return f"{subnet}.{r.randint(2, 254)}"
        return f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(2, 254)}"

    def _merchant(self) -> Merchant:
        names, weights = zip(*CATEGORIES, strict=True)
        category = self.rng.choices(names, weights)[0]
        return Merchant(self.new_id(self.old_ms()), category, self.rng.paretovariate(1.2))

    def _user(self, created_ms: int = 0) -> User:
        r = self.rng
        created_ms = created_ms or self.old_ms()
        city = r.choice(CITIES)
        home = (city[0] + r.uniform(-0.2, 0.2), city[1] + r.uniform(-0.2, 0.2))
        return User(
            id=self.new_id(created_ms),
            home=home,
            devices=[self.device() for _ in range(r.choice((1, 1, 1, 2)))],
            ips=[self.ip() for _ in range(r.randint(1, 3))],
            rate_per_day=r.lognormvariate(0.3, 0.7),
            spend_fen=r.lognormvariate(math.log(6_000), 0.9),
            huabei=r.random() < 0.4,
            card=self.new_id(created_ms),
        )

    def amount(self, base_fen: float, sigma: float = 0.8) -> int:
        return max(100, int(self.rng.lognormvariate(math.log(base_fen), sigma)))

    def ctx(
        self, u: User, at: tuple[float, float] | None = None, device: str = "", ip: str = ""
    ) -> RequestContext:
        r = self.rng
        lat, lon = at or u.home
        return RequestContext(
            device_id=device or r.choice(u.devices),
            ip=ip or r.choice(u.ips),
            user_agent="QianbaoApp/3",
            location=f"{lat + r.uniform(-0.05, 0.05):.4f},{lon + r.uniform(-0.05, 0.05):.4f}",
        )


def _pay(u_id: str, m: str, amount: int, funding: str = "BALANCE") -> Movement:
    return Movement(
        kind="PAY",
        movement_id="",
        party_id=u_id,
        amount_fen=amount,
        payee_id=m,
        merchant_id=m,
        funding=funding,
    )


def _move(kind: str, party: str, payee: str, amount: int) -> Movement:
    return Movement(
        kind=kind,
        movement_id="",
        party_id=party,
        amount_fen=amount,
        payee_id=payee,
        funding="BALANCE",
    )


def normal_day(w: World, u: User, day_ms: int) -> Iterator[SimEvent]:
    r = w.rng
    where = u.home
    if r.random() < 0.01:  # a trip: the rest of the day somewhere else, reached by plane
        where = r.choice(CITIES)
    if r.random() < 0.002:  # a new phone (kept from now on)
        u.devices.append(w.device())
    if r.random() < 0.01:
        u.ips.append(w.ip())
    n = _poisson(r, u.rate_per_day)
    times = sorted(day_ms + int(r.betavariate(3, 2) * DAY_MS) for _ in range(n))
    for i, at in enumerate(times):
        if where != u.home and i < n // 2:
            at += 8 * HOUR_MS  # the flight takes time
        rc = w.ctx(u, where if i >= n // 2 else u.home, device=u.devices[-1])
        if r.random() < 0.08:  # a merchant-initiated or scanned payment: no device of theirs
            rc = RequestContext()
        roll = r.random()
        if roll < 0.05:
            yield SimEvent(at, _move("TOPUP", u.id, u.card, w.amount(u.spend_fen * 10)), rc)
        elif roll < 0.80:
            merchant = r.choice(u.favourites) if r.random() < 0.8 else r.choice(w.merchants).id
            big = r.random() < 0.01
            amount = w.amount(u.spend_fen * (20 if big else 1))
            funding = "HUABEI" if u.huabei and r.random() < 0.3 else "BALANCE"
            yield SimEvent(at, _pay(u.id, merchant, amount, funding), rc)
        elif roll < 0.95 and u.friends:
            payee, amount = _transfer(w, u)
            yield SimEvent(at, _move("TRANSFER", u.id, payee, amount), rc)
        else:
            yield SimEvent(at, _move("WITHDRAW", u.id, u.card, w.amount(u.spend_fen * 10)), rc)


def _transfer(w: World, u: User) -> tuple[str, int]:
    """An ordinary transfer: mostly to a friend; now and then a small sum to a seller (a second-
    hand sale, a tutor, a stall: many first-time payers), or to somebody new, who often becomes
    a friend paid again in the days after. Round sums are common (a treat, 52.00, 100.00)."""
    r = w.rng
    roll = r.random()
    if roll < 0.08 and w.sellers:
        seller = r.choice(w.sellers)
        amount = w.amount(r.choice((3_000, 8_000, 20_000)), 0.7)
        if r.random() < 0.3 and seller not in u.friends:
            u.friends.append(seller)  # a regular customer from now on
        return seller, _rounded(w, amount)
    if roll < 0.20:
        payee = r.choice(w.users).id
        if payee != u.id and r.random() < 0.35:
            u.friends.append(payee)
        return payee, _rounded(w, w.amount(u.spend_fen * 2, 1.0))
    return r.choice(u.friends), _rounded(w, w.amount(u.spend_fen * 3, 1.0))


def _rounded(w: World, amount: int) -> int:
    r = w.rng
    roll = r.random()
    if roll < 0.25:
        return max(1_000, round(amount, -3))  # whole tens of yuan
    if roll < 0.30:
        return r.choice((5_200, 13_140, 52_000, 66_600, 88_800))  # lucky sums
    return amount


def _poisson(r: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-min(lam, 30))
    while True:
        p *= r.random()
        if p <= limit:
            return n
        n += 1


# --- typologies -----------------------------------------------------------------------------
def account_takeover(w: World, day_ms: int) -> Iterator[SimEvent]:
    r = w.rng
    victim = r.choice(w.users)
    at = day_ms + r.randint(0, DAY_MS - 3 * HOUR_MS)
    thief = RequestContext(
        w.device(), w.ip(), "QianbaoApp/3", "{:.4f},{:.4f}".format(*r.choice(CITIES))
    )
    payee = w.fresh_id(at, 30)
    for _ in range(r.randint(1, 3)):
        at += r.randint(1, 10) * MIN_MS
        amount = w.amount(max(victim.spend_fen * 15, 200_000), 0.6)
        yield SimEvent(at, _move("TRANSFER", victim.id, payee, amount), thief, "account_takeover")
    if r.random() < 0.6:
        at += r.randint(1, 20) * MIN_MS
        amount = w.amount(victim.spend_fen * 10, 0.6)
        out = _move("WITHDRAW", victim.id, victim.card, amount)
        yield SimEvent(at, out, thief, "account_takeover")


def app_scam(w: World, day_ms: int) -> Iterator[SimEvent]:
    """One scammer's campaign: an account (fresh, or bought from somebody with a history) that
    several victims, found over a few days, each pay small sums over hours or days on their own
    phone (``app_scam_grooming``: a deposit, a "fee", an "investment" that seems to pay) before
    most of them send one or two large ones."""
    r = w.rng
    start = day_ms + r.randint(0, DAY_MS)
    scammer = w.fresh_id(start, 20) if r.random() < 0.75 else r.choice(w.users).id
    for victim in r.sample(w.users, r.randint(1, 5)):
        yield from _groomed(w, victim, scammer, start + r.randint(0, 3 * DAY_MS))


def _groomed(w: World, victim: User, scammer: str, at: int) -> Iterator[SimEvent]:
    r = w.rng
    phone = victim.devices[-1]
    step = r.uniform(0.8, 1.6)  # the sums grow as trust does
    amount = r.choice((1_000, 2_000, 5_000, 10_000, 20_000)) if r.random() < 0.5 else 0
    amount = amount or r.randint(2_000, 30_000)
    for _ in range(r.randint(2, 6)):
        at += r.randint(20, 20 * 60) * MIN_MS
        sent = amount if r.random() < 0.5 else _rounded(w, int(amount * r.uniform(0.7, 1.3)))
        grooming = _move("TRANSFER", victim.id, scammer, min(max(sent, 500), 90_000))
        yield SimEvent(at, grooming, w.ctx(victim, device=phone), GROOMING)
        amount = int(amount * step)
    if r.random() < 0.15:  # the victim stops in time: no large transfer
        return
    for _ in range(r.randint(1, 2)):
        at += r.randint(20, 36 * 60) * MIN_MS
        big = _move("TRANSFER", victim.id, scammer, r.randint(300_000, 5_000_000))
        yield SimEvent(at, big, w.ctx(victim, device=phone), "app_scam")


def mule(w: World, day_ms: int) -> Iterator[SimEvent]:
    r = w.rng
    mule_user = r.choice(w.users)
    at = day_ms + r.randint(0, DAY_MS // 2)
    collected = 0
    for _ in range(r.randint(5, 15)):
        payer = r.choice(w.users)
        at += r.randint(1, 40) * MIN_MS
        amount = r.randint(50_000, 500_000)
        collected += amount
        yield SimEvent(at, _move("TRANSFER", payer.id, mule_user.id, amount), w.ctx(payer))
    onward = w.fresh_id(at, 30)
    while collected > 0:
        at += r.randint(1, 30) * MIN_MS
        amount = min(collected, r.randint(300_000, 2_000_000))
        collected -= amount
        kind = "WITHDRAW" if r.random() < 0.4 else "TRANSFER"
        yield SimEvent(
            at,
            _move(
                kind,
                mule_user.id,
                mule_user.card if kind == "WITHDRAW" else onward,
                int(amount * 0.97),
            ),
            w.ctx(mule_user),
            "mule",
        )


def structuring(w: World, day_ms: int) -> Iterator[SimEvent]:
    r = w.rng
    u = r.choice(w.users)
    limit = r.choice((1_000_000, 2_000_000, 5_000_000))
    at = day_ms + r.randint(0, DAY_MS // 3)
    payees = [w.fresh_id(at, 400) for _ in range(r.randint(1, 3))]
    for _ in range(r.randint(3, 6)):
        at += r.randint(20, 240) * MIN_MS
        amount = int(limit * r.uniform(0.92, 0.995))
        kind = "WITHDRAW" if r.random() < 0.3 else "TRANSFER"
        payee = u.card if kind == "WITHDRAW" else r.choice(payees)
        yield SimEvent(at, _move(kind, u.id, payee, amount), w.ctx(u), "structuring")


def huabei_cashout(w: World, day_ms: int) -> Iterator[SimEvent]:
    r = w.rng
    u = r.choice(w.users)
    colluder = r.choice(
        [
            m
            for m in w.merchants
            if m.category in ("cash_like", "electronics", "precious_metals", "ecommerce")
        ]
    )
    shared = w.ctx(u)
    at = day_ms + r.randint(0, DAY_MS // 2)
    for _ in range(r.randint(1, 3)):
        at += r.randint(30, 300) * MIN_MS
        amount = r.choice((200_000, 300_000, 500_000, 800_000, 1_000_000)) + r.randint(-500, 500)
        yield SimEvent(at, _pay(u.id, colluder.id, amount, "HUABEI"), shared, "huabei_cashout")
        at += r.randint(10, 240) * MIN_MS
        back = _move("TRANSFER", colluder.id, u.id, int(amount * r.uniform(0.9, 0.96)))
        operator = RequestContext(shared.device_id, shared.ip, "QianbaoBiz/2", shared.location)
        yield SimEvent(at, back, operator, "huabei_cashout")


def fake_trades(w: World, day_ms: int) -> Iterator[SimEvent]:
    r = w.rng
    merchant = r.choice(w.merchants)
    subnet = f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}"
    devices = [w.device() for _ in range(r.randint(1, 3))]
    ring = [
        w.fresh_id(day_ms, 30) if r.random() < 0.5 else r.choice(w.users).id  # new or rented
        for _ in range(r.randint(6, 15))
    ]
    base = r.randint(5_000, 50_000)
    at = day_ms + r.randint(0, DAY_MS // 2)
    for _ in range(r.randint(15, 40)):
        at += r.randint(10, 300) * 1000
        rc = RequestContext(r.choice(devices), w.ip(subnet), "QianbaoApp/3", "")
        amount = int(base * r.uniform(0.95, 1.05))
        yield SimEvent(at, _pay(r.choice(ring), merchant.id, amount), rc, "fake_trades")


INJECT = {
    "account_takeover": account_takeover,
    "app_scam": app_scam,
    "mule": mule,
    "structuring": structuring,
    "huabei_cashout": huabei_cashout,
    "fake_trades": fake_trades,
}


def generate(
    seed: int,
    days: int,
    *,
    users: int = 3000,
    merchants: int = 200,
    frauds_per_day: float = 3.0,
    warmup_days: int = 7,
) -> tuple[World, list[SimEvent]]:
    """``days`` of life from ``seed``, in time order, fraud instances mixed in at random, after
    ``warmup_days`` of ordinary history (a platform has known its users for a while)."""
    w = World(seed, users, merchants)
    events: list[SimEvent] = []
    for d in range(-warmup_days, days):
        day_ms = T0_MS + d * DAY_MS
        for u in w.users:
            events.extend(replace(e, warmup=True) if d < 0 else e for e in normal_day(w, u, day_ms))
        if d < 0:
            continue
        for _ in range(_poisson(w.rng, users * 0.01)):  # sign-ups: 1 % a day
            events.extend(normal_day(w, w.join(day_ms), day_ms))
        for _ in range(_poisson(w.rng, frauds_per_day * len(TYPOLOGIES))):
            events.extend(INJECT[w.rng.choice(TYPOLOGIES)](w, day_ms))
    events.sort(key=lambda e: e.at_ms)
    return w, events
