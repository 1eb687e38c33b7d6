"""Coupon campaigns (营销), coupons issued to users, and a coupon at the cashier.

A campaign is funded by the platform (``marketing_expense``) or by a merchant (a discount the
merchant gives: it is paid that much less). Its total budget is face value issued: issuing a
coupon takes its face value from the budget with a guarded update, so the budget can never be
overspent, and a coupon in a user's hands is always covered. The per-user limit is a key
(campaign, user, 1..limit), so two concurrent issues cannot both take the last place.

A coupon lives in its owner's unit. ``take`` and ``give_back`` run inside the trade's own
writer command, so a coupon becomes USED exactly when the payment books, and a payment that
fails leaves it AVAILABLE. See docs/decisions/0304-coupons.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import Leg, credit, debit, open_account
from qianbao.marketing.errors import (
    BudgetExhausted,
    CampaignEnded,
    CampaignInvalid,
    CampaignNotFound,
    CampaignNotStarted,
    CouponExpired,
    CouponLimitReached,
    CouponMinSpendNotMet,
    CouponNotApplicable,
    CouponNotFound,
    CouponNotStarted,
    CouponUsed,
    IssueRaced,
)
from qianbao.members import service as members
from qianbao.money_movement.commands import Pay
from qianbao.money_movement.guards import check_amount
from qianbao.platform import idempotency
from qianbao.platform.clock import TZ, clock
from qianbao.platform.controls import COUPONS_OFF
from qianbao.platform.db import Row, Tx
from qianbao.platform.errors import IdempotencyKeyReused
from qianbao.platform.ids import bucket_for_key, bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

PLATFORM, MERCHANT = "PLATFORM", "MERCHANT"
FUNDERS = (PLATFORM, MERCHANT)
AVAILABLE, USED = "AVAILABLE", "USED"
COUPON = StateMachine("coupon", "coupons", {AVAILABLE: {USED}, USED: {AVAILABLE}})
# A campaign issues coupons only while ACTIVE; PAUSED stops issuing until resumed, STOPPED is for
# good. Coupons already issued stay usable either way (they are the users' now).
ACTIVE, PAUSED, STOPPED = "ACTIVE", "PAUSED", "STOPPED"
CAMPAIGN = StateMachine(
    "campaign",
    "coupon_campaigns",
    {ACTIVE: {PAUSED, STOPPED}, PAUSED: {ACTIVE, STOPPED}},
    initial={ACTIVE},
)

# Defaults; override with ``Settings.extra`` keys of the same name.
DEFAULTS: dict[str, int] = {
    "coupon_per_user_limit_max": 100,
    "coupon_validity_max_days": 366,
}
DAY_MS = 86_400_000


def setting(p: Platform, name: str) -> int:
    return int(p.settings.extra.get(name, DEFAULTS[name]))


# --- campaigns (operators) ----------------------------------------------------------------
def create_campaign(
    p: Platform,
    *,
    name: str,
    funder: str,
    face_fen: int,
    min_spend_fen: int,
    valid_from_ms: int,
    valid_until_ms: int,
    per_user_limit: int,
    budget_fen: int,
    merchant_id: str | None = None,
) -> Row:
    """A coupon campaign. Every number is the caller's: nothing about a campaign is code."""
    name = name.strip()
    if not 2 <= len(name) <= 80:
        raise CampaignInvalid("campaign name must be 2–80 characters")
    funder = funder.strip().upper()
    if funder not in FUNDERS:
        raise CampaignInvalid("funder must be PLATFORM or MERCHANT")
    check_amount(p, face_fen)
    check_amount(p, min_spend_fen)
    check_amount(p, budget_fen)
    if min_spend_fen <= face_fen:
        raise CampaignInvalid(
            "the minimum spend must be above the face value (the buyer pays something)"
        )
    if budget_fen < face_fen:
        raise CampaignInvalid("the budget is below one coupon")
    limit_max = setting(p, "coupon_per_user_limit_max")
    if not isinstance(per_user_limit, int) or not 1 <= per_user_limit <= limit_max:
        raise CampaignInvalid(f"per-user limit must be 1–{limit_max}")
    days = setting(p, "coupon_validity_max_days")
    if not 0 <= valid_from_ms < valid_until_ms <= valid_from_ms + days * DAY_MS:
        raise CampaignInvalid(f"validity must end after it starts, within {days} days")
    if funder == MERCHANT:
        if not merchant_id:
            raise CampaignInvalid("a merchant campaign needs its merchant")
        members.get_merchant(p, merchant_id)
    elif merchant_id:
        members.get_merchant(p, merchant_id)  # a platform coupon valid at one merchant only
    campaign_id = new_id(bucket_for_key(name))
    now = clock.now_ms()
    with p.global_db.transaction() as tx:
        tx.execute(
            "INSERT INTO coupon_campaigns (id, name, funder, merchant_id, face_fen,"
            " min_spend_fen, valid_from_ms, valid_until_ms, per_user_limit, budget_fen,"
            " issued_fen, issued_count, status, created_at_ms, updated_at_ms) VALUES (:id, :n,"
            " :f, :m, :face, :min, :vf, :vu, :lim, :b, 0, 0, 'ACTIVE', :now, :now)",
            {
                "id": campaign_id,
                "n": name,
                "f": funder,
                "m": merchant_id or None,
                "face": face_fen,
                "min": min_spend_fen,
                "vf": valid_from_ms,
                "vu": valid_until_ms,
                "lim": per_user_limit,
                "b": budget_fen,
                "now": now,
            },
        )
    return get_campaign(p, campaign_id)


def get_campaign(p: Platform, campaign_id: str) -> Row:
    with p.global_db.read() as tx:
        row = tx.one("SELECT * FROM coupon_campaigns WHERE id = :id", {"id": campaign_id})
    if row is None:
        raise CampaignNotFound("no such campaign")
    return dict(row)


def list_campaigns(p: Platform, limit: int = 100) -> list[Row]:
    with p.global_db.read() as tx:
        return [
            dict(r)
            for r in tx.all(
                "SELECT * FROM coupon_campaigns ORDER BY created_at_ms DESC LIMIT :l", {"l": limit}
            )
        ]


def set_campaign_status(p: Platform, campaign_id: str, target: str) -> Row:
    """Pause, resume or stop a campaign (guarded: a concurrent change wins, this one is a 409)."""
    if target not in CAMPAIGN.states():
        raise CampaignInvalid(f"a campaign is {', '.join(sorted(CAMPAIGN.states()))}")
    current = str(get_campaign(p, campaign_id)["status"])
    with p.global_db.transaction() as tx:
        CAMPAIGN.move(tx, campaign_id, current, target)
    return get_campaign(p, campaign_id)


def _grant(tx: Tx, campaign_id: str, request_id: str) -> Row | None:
    row = tx.one(
        "SELECT * FROM coupon_grants WHERE campaign_id = :c AND request_id = :r",
        {"c": campaign_id, "r": request_id},
    )
    return dict(row) if row is not None else None


def issue(p: Platform, campaign_id: str, user_id: str, request_id: str) -> Row:
    """Give a user one coupon of the campaign (idempotent by ``request_id``): the budget and the
    per-user limit are taken in the global database, then the coupon is written in the user's
    unit. A retry with the same ``request_id`` finishes a half-done issue."""
    p.controls.refuse_if_on(COUPONS_OFF)
    idempotency.check_key(request_id)
    members.get_user(p, user_id)
    now = clock.now_ms()
    with p.global_db.transaction() as tx:
        coupon_id = _take_place(tx, campaign_id, user_id, request_id, now)
    c = get_campaign(p, campaign_id)
    command = IssueCoupon(
        coupon_id=coupon_id,
        campaign_id=campaign_id,
        user_id=user_id,
        funder=str(c["funder"]),
        merchant_id=c["merchant_id"],
        face_fen=int(c["face_fen"]),
        min_spend_fen=int(c["min_spend_fen"]),
        valid_from_ms=int(c["valid_from_ms"]),
        valid_until_ms=int(c["valid_until_ms"]),
        issued_at_ms=now,
    )
    result: Row = p.commands.submit(p.unit_of(coupon_id), command)
    return result


def _take_place(tx: Tx, campaign_id: str, user_id: str, request_id: str, now: int) -> str:
    """The coupon's id: a grant taken now (budget and per-user place, guarded), or the one an
    earlier try with this request id took."""
    old = _grant(tx, campaign_id, request_id)
    if old is not None:
        if old["user_id"] != user_id:
            raise IdempotencyKeyReused("request id was used for another user")
        return str(old["coupon_id"])
    c = tx.one("SELECT * FROM coupon_campaigns WHERE id = :id", {"id": campaign_id})
    if c is None:
        raise CampaignNotFound("no such campaign")
    if c["status"] != "ACTIVE" or c["valid_until_ms"] <= now:
        raise CampaignEnded("the campaign has ended")
    held = int(
        tx.scalar(
            "SELECT COUNT(*) FROM coupon_grants WHERE campaign_id = :c AND user_id = :u",
            {"c": campaign_id, "u": user_id},
        )
        or 0
    )
    if held >= c["per_user_limit"]:
        raise CouponLimitReached(f"at most {c['per_user_limit']} per user")
    if not tx.execute(
        "UPDATE coupon_campaigns SET issued_fen = issued_fen + face_fen,"
        " issued_count = issued_count + 1, updated_at_ms = :now"
        " WHERE id = :id AND status = 'ACTIVE' AND issued_fen + face_fen <= budget_fen",
        {"id": campaign_id, "now": now},
    ):
        raise BudgetExhausted("the campaign's budget is used up")
    coupon_id = new_id(bucket_of(user_id))
    placed = tx.execute(
        "INSERT INTO coupon_grants (campaign_id, user_id, seq, coupon_id, request_id,"
        " created_at_ms) VALUES (:c, :u, :seq, :id, :r, :now) ON CONFLICT DO NOTHING",
        {
            "c": campaign_id,
            "u": user_id,
            "seq": held + 1,
            "id": coupon_id,
            "r": request_id,
            "now": now,
        },
    )
    if not placed:  # a concurrent issue took this place (or this request id)
        raise IssueRaced("another issue of this coupon ran at once; retry")
    return coupon_id


@dataclass(frozen=True, slots=True)
class IssueCoupon:
    """Write a granted coupon into its owner's unit (the grant was taken in the global
    database; writing it again changes nothing)."""

    coupon_id: str
    campaign_id: str
    user_id: str
    funder: str
    merchant_id: str | None
    face_fen: int
    min_spend_fen: int
    valid_from_ms: int
    valid_until_ms: int
    issued_at_ms: int


def handle_issue_coupon(ctx: WriteContext, c: IssueCoupon) -> Row:
    ctx.tx.execute(
        "INSERT INTO coupons (id, campaign_id, user_id, funder, merchant_id, face_fen,"
        " min_spend_fen, valid_from_ms, valid_until_ms, status, created_at_ms,"
        " updated_at_ms) VALUES (:id, :c, :u, :f, :m, :face, :min, :vf, :vu, 'AVAILABLE',"
        " :now, :now) ON CONFLICT (id) DO NOTHING",
        {
            "id": c.coupon_id,
            "c": c.campaign_id,
            "u": c.user_id,
            "f": c.funder,
            "m": c.merchant_id,
            "face": c.face_fen,
            "min": c.min_spend_fen,
            "vf": c.valid_from_ms,
            "vu": c.valid_until_ms,
            "now": c.issued_at_ms,
        },
    )
    return _load(ctx.tx, c.coupon_id)


# --- a user claims a coupon (领券) ----------------------------------------------------------
def running(c: Row, now_ms: int) -> bool:
    """A campaign a user may claim from now: active, started, not ended, a coupon's worth of
    budget left (ADR 0907). The per-user limit is checked by ``issue``."""
    open_now = c["status"] == "ACTIVE" and c["valid_from_ms"] <= now_ms < c["valid_until_ms"]
    return bool(open_now and c["issued_fen"] + c["face_fen"] <= c["budget_fen"])


def claimable_campaigns(p: Platform, limit: int = 50) -> list[Row]:
    """The running campaigns, newest first."""
    now = clock.now_ms()
    return [c for c in list_campaigns(p, 500) if running(c, now)][:limit]


def claim(p: Platform, campaign_id: str, user_id: str, request_id: str) -> Row:
    """The user takes one coupon of a running campaign (idempotent by ``request_id``; the
    budget and the per-user limit hold as for an operator's issue)."""
    key = idempotency.derived_key(f"claim:{user_id}", request_id)
    c = get_campaign(p, campaign_id)
    if c["status"] == "ACTIVE" and clock.now_ms() < c["valid_from_ms"]:
        raise CampaignNotStarted("the campaign has not started yet")
    return issue(p, campaign_id, user_id, key)


# --- a user's coupons -----------------------------------------------------------------------
def _load(tx: Tx, coupon_id: str) -> Row:
    row = tx.one("SELECT * FROM coupons WHERE id = :id", {"id": coupon_id})
    if row is None:
        raise CouponNotFound("no such coupon")
    return dict(row)


def list_coupons(p: Platform, user_id: str, status: str | None = None) -> list[Row]:
    where = "user_id = :u" + (" AND status = :s" if status else "")
    with p.db_for(user_id).read() as tx:
        return [
            dict(r)
            for r in tx.all(
                f"SELECT * FROM coupons WHERE {where} ORDER BY valid_until_ms, id",
                {"u": user_id, "s": status or ""},
            )
        ]


def public_coupon(c: Row) -> dict[str, Any]:
    now = clock.now_ms()
    return {
        "coupon_id": c["id"],
        "campaign_id": c["campaign_id"],
        "funder": c["funder"],
        "merchant_id": c["merchant_id"],
        "face_fen": c["face_fen"],
        "min_spend_fen": c["min_spend_fen"],
        "valid_from": _text(c["valid_from_ms"]),
        "valid_until": _text(c["valid_until_ms"]),
        "status": c["status"],
        "usable_now": c["status"] == AVAILABLE and c["valid_from_ms"] <= now < c["valid_until_ms"],
        "trade_id": c["trade_id"],
    }


def _text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=TZ).strftime("%Y-%m-%d %H:%M:%S")


# --- at the cashier (inside the trade's command) ---------------------------------------------
def check_usable(c: Row, buyer_id: str, merchant_id: str, amount_fen: int) -> None:
    """Why ``c`` cannot pay ``amount_fen`` of ``buyer_id`` at ``merchant_id``, as an error."""
    if c["user_id"] != buyer_id:
        raise CouponNotFound("no such coupon")
    if c["status"] != AVAILABLE:
        raise CouponUsed("the coupon was already used")
    now = clock.now_ms()
    if now < c["valid_from_ms"]:
        raise CouponNotStarted("the coupon is not valid yet")
    if now >= c["valid_until_ms"]:
        raise CouponExpired("the coupon has expired")
    if c["merchant_id"] and c["merchant_id"] != merchant_id:
        raise CouponNotApplicable("the coupon is for another merchant")
    if amount_fen < c["min_spend_fen"]:
        raise CouponMinSpendNotMet(f"the coupon needs a spend of at least {c['min_spend_fen']} fen")


def peek(p: Platform, coupon_id: str, buyer_id: str, merchant_id: str, amount_fen: int) -> Row:
    """Read-only check before a payment starts (the command checks again)."""
    p.controls.refuse_if_on(COUPONS_OFF)
    try:
        db = p.db_for(coupon_id)
    except ValueError:
        raise CouponNotFound("no such coupon") from None
    if p.unit_of(coupon_id) != p.unit_of(buyer_id):
        raise CouponNotFound("no such coupon")
    with db.read() as tx:
        c = _load(tx, coupon_id)
    check_usable(c, buyer_id, merchant_id, amount_fen)
    return c


def take(
    ctx: WriteContext, coupon_id: str, buyer_id: str, merchant_id: str, amount_fen: int, ref: str
) -> Row:
    """Use the coupon for the payment ``ref``: AVAILABLE -> USED (guarded), in the caller's
    command; if the command fails the coupon stays AVAILABLE."""
    c = _load(ctx.tx, coupon_id)
    check_usable(c, buyer_id, merchant_id, amount_fen)
    COUPON.move(ctx.tx, coupon_id, AVAILABLE, USED, trade_id=ref, used_at_ms=clock.now_ms())
    return c


def give_back(ctx: WriteContext, coupon_id: str) -> bool:
    """A fully refunded payment returns its coupon to the buyer while the coupon is still
    valid (USED -> AVAILABLE); an expired one stays USED. Returns whether it came back."""
    c = _load(ctx.tx, coupon_id)
    if c["status"] != USED or clock.now_ms() >= c["valid_until_ms"]:
        return False
    COUPON.move(ctx.tx, coupon_id, USED, AVAILABLE, trade_id=None, used_at_ms=None)
    return True


def funder_legs(ctx: WriteContext, funder: str, amount_fen: int, *, back: bool) -> list[Leg]:
    """The platform pays its coupons from marketing expense (and gets refunds back there). A
    merchant-funded coupon has no leg: the merchant is simply paid that much less."""
    if funder != PLATFORM or not amount_fen:
        return []
    account = unit_account("marketing_expense", ctx.unit)
    open_account(ctx.tx, account, f"u{ctx.unit}")
    return [credit(account, amount_fen) if back else debit(account, amount_fen)]


class CouponFunding:
    """The money-movement engine's ``Coupons`` port: a coupon used with a funding source."""

    def take(self, ctx: WriteContext, pay: Pay) -> None:
        assert pay.coupon_id is not None
        price = pay.amount_fen - pay.offer_fen  # after a full-reduction offer (ADR 0723)
        take(ctx, pay.coupon_id, pay.payer_id, pay.merchant_id, price, pay.payment_id)

    def funder_legs(
        self, ctx: WriteContext, funder: str, amount_fen: int, *, back: bool
    ) -> list[Leg]:
        return funder_legs(ctx, funder, amount_fen, back=back)
