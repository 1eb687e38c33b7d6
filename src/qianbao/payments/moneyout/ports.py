"""What money out asks of the products above it, as ports wired in ``bootstrap.py``.

``PayoutHold``: money in a merchant's balance that may still have to go back to a customer and
must not be paid out yet: a bill payment the biller has not answered (billpay) is refunded from
the biller's balance if the biller refuses.
"""

from __future__ import annotations

from typing import Protocol

from qianbao.platform.runtime import Platform


class PayoutHold(Protocol):
    def held_by_unit(self, p: Platform, merchant_id: str) -> list[int]:
        """Per unit, what of the merchant's sub-account there must stay for now."""
        ...


def held_by_unit(p: Platform, merchant_id: str) -> list[int]:
    """What every hold wired on the platform (``Platform.payout_holds``) keeps, per unit."""
    held = [0] * len(p.units)
    hold: PayoutHold
    for hold in p.payout_holds:
        held = [a + b for a, b in zip(held, hold.held_by_unit(p, merchant_id), strict=True)]
    return held
