"""What scoring needs from the credit product, as a port wired by ``bootstrap.py`` (credit
uses scoring's bands and cards; scoring must not import credit back).

- ``repayment_history``: a user's Huabei repayment behaviour (a behaviour feature of the card).
- ``open_installment_plans``: how many Huabei installment plans of the user are running (an
  application that answers "no other installment plans" over one is refused).
- ``on_new_score``: a stored score reaches the user's Huabei account (its interest tier), in the
  same unit command that stores the score.
"""

from __future__ import annotations

from typing import Protocol

from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext


class CreditBehaviour(Protocol):
    def repayment_history(self, p: Platform, user_id: str) -> dict[str, int]: ...

    def open_installment_plans(self, p: Platform, user_id: str) -> int: ...

    def on_new_score(
        self, ctx: WriteContext, user_id: str, score: int, source: str, actor: str
    ) -> None: ...


def credit_behaviour(p: Platform) -> CreditBehaviour:
    if p.credit_behaviour is None:
        raise RuntimeError("scoring's CreditBehaviour port is not wired: open the platform first")
    behaviour: CreditBehaviour = p.credit_behaviour
    return behaviour
