"""A bank channel behind its circuit breaker (``platform/breaker.py``, ADR 0941).

Every call to the bank (card check, charge, payout, query) waits at most
``bank_call_timeout_s``; a timeout is the channel's own ``ChannelTimeout`` (outcome unknown,
to be queried), and while the breaker is open a call fails at once with ``BankUnavailable``
(a ``ChannelTimeout`` too, so every caller already handles it: nothing moved, ask later).
A declined card is an answer, not a failure of the bank. The journal (``JournaledChannel``)
wraps this, so a request refused by the breaker is still on record as sent and unanswered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from qianbao.channels.base import BankStatement, BankUnavailable, ChannelTimeout
from qianbao.platform.breaker import Breaker, CallTimedOut
from qianbao.platform.errors import DependencyUnavailable, QianbaoError

T = TypeVar("T")
_OWN = ("inner", "breaker", "code")


def _is_failure(exc: BaseException) -> bool:
    """A timeout or a crash counts against the bank; a domain answer (card rejected) not."""
    return isinstance(exc, ChannelTimeout) or not isinstance(exc, QianbaoError)


class GuardedChannel:
    code: str

    def __init__(self, inner: Any, breaker: Breaker) -> None:
        object.__setattr__(self, "code", str(inner.code))
        object.__setattr__(self, "inner", inner)
        object.__setattr__(self, "breaker", breaker)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.inner, name, value)  # a test turning the simulator's rates up

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return self.breaker.call(fn, counts=_is_failure)
        except DependencyUnavailable as exc:
            raise BankUnavailable(
                f"the bank {self.code} is unavailable for now; retry in {exc.retry_after_s} s",
                exc.retry_after_s,
            ) from None
        except CallTimedOut as exc:
            raise ChannelTimeout(str(exc)) from None

    def verify_card(self, card_no: str, holder_name: str) -> None:
        self._call(lambda: self.inner.verify_card(card_no, holder_name))

    def charge(self, request_id: str, card_no: str, amount_fen: int) -> str:
        return self._call(lambda: str(self.inner.charge(request_id, card_no, amount_fen)))

    def payout(self, request_id: str, card_no: str, amount_fen: int) -> str:
        return self._call(lambda: str(self.inner.payout(request_id, card_no, amount_fen)))

    def query(self, request_id: str) -> str:
        return self._call(lambda: str(self.inner.query(request_id)))

    def statement(self, day: date) -> BankStatement:
        result: BankStatement = self.inner.statement(day)  # a batch file, not on a request path
        return result
