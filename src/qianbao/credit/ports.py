"""What credit needs from other packages, as ports wired by the composition root
(``bootstrap.open_platform``), so credit imports neither ``scoring.service`` nor
``payments.trades`` (both import credit; see docs/decisions/0206-credit-modules.md).

- ``ScoreSource``: users' stored credit scores (the scoring package keeps them) and the
  periodic re-scoring before line reviews.
- ``TradeOrders``: which route bucket holds a merchant's trade (0301), where its installment
  offer is stored.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from qianbao.platform.db import Tx
from qianbao.platform.runtime import Platform


class ScoreSource(Protocol):
    def latest_score(self, p: Platform, user_id: str) -> int | None:
        """The user's latest stored score (350–950), if any."""
        ...

    def latest_score_in(self, tx: Tx, user_id: str) -> int | None:
        """The same inside a command of the user's unit."""
        ...

    def rescore(self, p: Platform, user_ids: list[str]) -> int:
        """Re-score users who applied with a score; returns how many were re-scored."""
        ...


class TradeOrders(Protocol):
    def order_bucket(self, merchant_id: str, out_trade_no: str) -> int:
        """The route bucket of the merchant's trade ``out_trade_no``."""
        ...


class AutodebitSource(Protocol):
    """A source Huabei's auto-debit draws on after the wallet and before the bound card (Yu'e
    Bao), listed in order on ``Platform.autodebit_sources`` by the composition root."""

    def draw(self, p: Platform, user_id: str, shortfall_fen: int, day: date) -> int:
        """Move up to ``shortfall_fen`` into the user's wallet balance; returns the fen moved
        (0 when drawn already for ``day``)."""
        ...


_scores: ScoreSource | None = None
_orders: TradeOrders | None = None


def wire(scores: ScoreSource, orders: TradeOrders) -> None:
    """Called once by ``bootstrap.open_platform`` (the same adapters for every platform)."""
    global _scores, _orders
    _scores, _orders = scores, orders


def score_source() -> ScoreSource:
    if _scores is None:
        raise RuntimeError("credit.ports.ScoreSource is not wired: open the platform first")
    return _scores


def trade_orders() -> TradeOrders:
    if _orders is None:
        raise RuntimeError("credit.ports.TradeOrders is not wired: open the platform first")
    return _orders
