"""Full-reduction campaigns and the engine's ``Reductions`` port.

A campaign's budget is split into one slice per unit when it is created (``split_fen``: the
slices sum to the budget exactly). A payment spends its offer from the slice of its own unit
with a guarded update inside the payment's command, so the budget can never be overspent and
no payment waits on another unit; a unit whose slice is spent simply finds no offer at the
cashier. A refund gives the offer back pro rata (the engine's quote) and returns that part to
the slice. Live campaigns are read through a 5-second cache on the payment path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from qianbao.ledger.service import Leg
from qianbao.marketing import service as coupons
from qianbao.marketing.errors import (
    ReductionBudgetExhausted,
    ReductionInvalid,
    ReductionNotFound,
)
from qianbao.marketing.reductions import model, store
from qianbao.members import service as members
from qianbao.money_movement.commands import Pay
from qianbao.money_movement.guards import check_amount
from qianbao.money_movement.ports import Offer
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.ids import bucket_for_key, new_id
from qianbao.platform.money import split_fen
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

PLATFORM, MERCHANT = coupons.PLATFORM, coupons.MERCHANT
ACTIVE, STOPPED = "ACTIVE", "STOPPED"
CAMPAIGN = StateMachine(
    "reduction campaign", "reduction_campaigns", {ACTIVE: {STOPPED}}, initial={ACTIVE}
)
CACHE_MS = 5_000
VALIDITY_MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class OpenReductionBudget:
    """A unit's slice of a new campaign's budget."""

    campaign_id: str
    budget_fen: int


def handle_open_budget(ctx: WriteContext, cmd: OpenReductionBudget) -> None:
    store.open_budget(ctx.tx, cmd.campaign_id, cmd.budget_fen)


def create_campaign(
    p: Platform,
    *,
    name: str,
    funder: str,
    tiers: list[tuple[int, int]],
    budget_fen: int,
    valid_from_ms: int,
    valid_until_ms: int,
    merchant_id: str | None = None,
) -> Row:
    """A campaign: tiers of (threshold, off) in fen on the price, a funder, a budget."""
    name, funder = name.strip(), funder.strip().upper()
    if not 2 <= len(name) <= 80:
        raise ReductionInvalid("campaign name must be 2–80 characters")
    if funder not in (PLATFORM, MERCHANT):
        raise ReductionInvalid("funder must be PLATFORM or MERCHANT")
    ordered = model.check_tiers([model.Tier(*t) for t in tiers])
    check_amount(p, budget_fen)
    if budget_fen < ordered[-1].off_fen:
        raise ReductionInvalid("the budget is below one use of the highest tier")
    day_ms = 86_400_000
    if not 0 <= valid_from_ms < valid_until_ms <= valid_from_ms + VALIDITY_MAX_DAYS * day_ms:
        raise ReductionInvalid(
            f"validity must end after it starts, within {VALIDITY_MAX_DAYS} days"
        )
    if funder == MERCHANT and not merchant_id:
        raise ReductionInvalid("a merchant-funded offer needs its merchant")
    if merchant_id:
        members.get_merchant(p, merchant_id)
    campaign_id = new_id(bucket_for_key(name))
    row = {
        "id": campaign_id,
        "name": name,
        "funder": funder,
        "merchant_id": merchant_id or None,
        "tiers_json": model.dump(ordered),
        "valid_from_ms": valid_from_ms,
        "valid_until_ms": valid_until_ms,
        "budget_fen": budget_fen,
        "now": clock.now_ms(),
    }
    for unit, slice_fen in enumerate(split_fen(budget_fen, len(p.units))):
        p.commands.submit(unit, OpenReductionBudget(campaign_id, slice_fen))
    with p.global_db.transaction() as tx:  # live once every unit holds its slice
        store.insert_campaign(tx, row)
    p.live_reductions = None
    return get_campaign(p, campaign_id)


def stop_campaign(p: Platform, campaign_id: str) -> Row:
    campaign = get_campaign(p, campaign_id)
    if campaign["status"] == ACTIVE:
        with p.global_db.transaction() as tx:
            CAMPAIGN.move(tx, campaign_id, ACTIVE, STOPPED)
    p.live_reductions = None
    return get_campaign(p, campaign_id)


def get_campaign(p: Platform, campaign_id: str) -> Row:
    with p.global_db.read() as tx:
        row = store.campaign(tx, campaign_id)
    if row is None:
        raise ReductionNotFound("no such full-reduction campaign")
    return row


def list_campaigns(p: Platform, limit: int = 100) -> list[Row]:
    with p.global_db.read() as tx:
        return store.campaigns(tx, max(1, min(limit, 1000)))


def budget_of(p: Platform, campaign_id: str) -> dict[str, Any]:
    """The budget as the units hold it: per unit and in total, spent and left."""
    get_campaign(p, campaign_id)
    slices = []
    for db in p.units:
        with db.read() as tx:
            row = store.budget(tx, campaign_id)
        slices.append((int(row["budget_fen"]), int(row["spent_fen"])) if row else (0, 0))
    budget, spent = sum(b for b, _ in slices), sum(s for _, s in slices)
    return {
        "budget_fen": budget,
        "spent_fen": spent,
        "left_fen": budget - spent,
        "by_unit": [{"budget_fen": b, "spent_fen": s} for b, s in slices],
    }


def public_campaign(row: Row) -> dict[str, Any]:
    return {
        "campaign_id": row["id"],
        "name": row["name"],
        "funder": row["funder"],
        "merchant_id": row["merchant_id"],
        "tiers": [
            {"threshold_fen": t.threshold_fen, "off_fen": t.off_fen}
            for t in model.load(row["tiers_json"])
        ],
        "budget_fen": int(row["budget_fen"]),
        "valid_from_ms": int(row["valid_from_ms"]),
        "valid_until_ms": int(row["valid_until_ms"]),
        "status": row["status"],
    }


def _live_campaigns(p: Platform) -> list[Row]:
    now_ms = int(time.monotonic() * 1000)
    hit = p.live_reductions
    if hit is not None and 0 <= now_ms - hit[0] < CACHE_MS:
        return [c for c in hit[1] if c["valid_until_ms"] > clock.now_ms()]
    with p.global_db.read() as tx:
        rows = store.live_campaigns(tx, clock.now_ms())
    p.live_reductions = (now_ms, rows)
    return rows


def best(p: Platform, merchant_id: str, amount_fen: int, unit: int) -> Offer | None:
    """The applicable offer taking most off (a tie goes to the older campaign), with enough
    budget left in the payer's unit."""
    found: list[tuple[int, str, Row]] = []
    for c in _live_campaigns(p):
        if c["merchant_id"] not in (None, merchant_id) or c["valid_from_ms"] > clock.now_ms():
            continue
        off = model.off_for(model.load(c["tiers_json"]), amount_fen)
        if off:
            found.append((-off, c["id"], c))
    for minus_off, _, c in sorted(found, key=lambda x: (x[0], x[1])):
        with p.units[unit].read() as tx:
            slice_row = store.budget(tx, c["id"])
        if slice_row and slice_row["spent_fen"] - minus_off <= slice_row["budget_fen"]:
            return Offer(c["id"], -minus_off, str(c["funder"]))
    return None


class ReductionOffers:
    """The money-movement engine's ``Reductions`` port."""

    def best(self, p: Platform, merchant_id: str, amount_fen: int, unit: int) -> Offer | None:
        return best(p, merchant_id, amount_fen, unit)

    def take(self, ctx: WriteContext, pay: Pay) -> None:
        assert pay.offer_id is not None
        if not store.spend(ctx.tx, pay.offer_id, pay.offer_fen):
            raise ReductionBudgetExhausted("the offer's budget ran out: pay again")
        store.insert_use(
            ctx.tx,
            {
                "payment_id": pay.payment_id,
                "campaign_id": pay.offer_id,
                "offer_fen": pay.offer_fen,
                "funder": pay.offer_funder,
                "now": clock.now_ms(),
            },
        )

    def used(self, ctx: WriteContext, paid_id: str) -> tuple[int, str]:
        row = store.use(ctx.tx, paid_id)
        return (int(row["offer_fen"]), str(row["funder"])) if row else (0, "")

    def give_back(self, ctx: WriteContext, paid_id: str, amount_fen: int) -> None:
        row = store.use(ctx.tx, paid_id)
        assert row is not None, f"payment {paid_id} used no offer"
        if not store.refund_use(ctx.tx, paid_id, amount_fen):
            raise ReductionInvalid("more of the offer back than it gave")  # the quote prevents it
        store.unspend(ctx.tx, row["campaign_id"], amount_fen)

    def funder_legs(
        self, ctx: WriteContext, funder: str, amount_fen: int, *, back: bool
    ) -> list[Leg]:
        return coupons.funder_legs(ctx, funder, amount_fen, back=back)
