"""The pure arithmetic of a full-reduction offer: its tiers and what they take off a price."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from qianbao.marketing.errors import ReductionInvalid

TIERS_MAX = 10


@dataclass(frozen=True, slots=True, order=True)
class Tier:
    threshold_fen: int  # spend at least this much (the price, before any coupon) ...
    off_fen: int  # ... and get this much off


def check_tiers(tiers: Sequence[Tier]) -> list[Tier]:
    """Tiers sorted by threshold; each higher threshold gives strictly more off, and every
    tier leaves the buyer something to pay (off < threshold)."""
    if not 1 <= len(tiers) <= TIERS_MAX:
        raise ReductionInvalid(f"an offer has 1–{TIERS_MAX} tiers")
    ordered = sorted(tiers)
    for tier in ordered:
        if not (isinstance(tier.threshold_fen, int) and isinstance(tier.off_fen, int)):
            raise ReductionInvalid("tier amounts are whole fen")
        if not 0 < tier.off_fen < tier.threshold_fen:
            raise ReductionInvalid("a tier takes off more than 0 and less than its threshold")
    for low, high in zip(ordered, ordered[1:], strict=False):
        if high.threshold_fen == low.threshold_fen or high.off_fen <= low.off_fen:
            raise ReductionInvalid("a higher threshold must give strictly more off")
    return ordered


def off_for(tiers: Sequence[Tier], amount_fen: int) -> int:
    """What the highest tier the price reaches takes off (0 below the first threshold)."""
    off = 0
    for tier in tiers:
        if amount_fen >= tier.threshold_fen:
            off = tier.off_fen
    return off


def dump(tiers: Sequence[Tier]) -> str:
    return json.dumps([[t.threshold_fen, t.off_fen] for t in tiers])


def load(text: str) -> list[Tier]:
    return [Tier(int(a), int(b)) for a, b in json.loads(text)]
