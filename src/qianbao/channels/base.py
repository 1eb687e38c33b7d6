"""The bank gateway interface (银行网关). Every channel call is idempotent on ``request_id``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from qianbao.channels.errors import Code
from qianbao.platform.errors import QianbaoError

SUCCEEDED, FAILED, UNKNOWN = "SUCCEEDED", "FAILED", "UNKNOWN"


class ChannelTimeout(QianbaoError):
    """The bank did not answer in time: the outcome is unknown until queried."""

    code = Code.CHANNEL_TIMEOUT
    http_status = 504


class BankUnavailable(ChannelTimeout):
    """The bank's circuit breaker is open (it failed or timed out too often): the request was
    not sent. A ``ChannelTimeout`` to every caller (the outcome is "not done, ask later"), and
    to a user a 503 with ``Retry-After``."""

    code = Code.BANK_UNAVAILABLE
    http_status = 503

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


class CardRejected(QianbaoError):
    code = Code.CARD_REJECTED


@dataclass(frozen=True)
class StatementLine:
    request_id: str
    kind: str  # charge | payout
    account_no: str
    amount_fen: int
    status: str  # SUCCEEDED | FAILED
    at_ms: int


@dataclass(frozen=True)
class BankStatement:
    """The bank's daily file for the platform (对账文件): every request it processed that day
    and the platform's reserve account balance at the start and the end of the day."""

    day: date
    lines: list[StatementLine]
    opening_balance_fen: int
    closing_balance_fen: int


class BankChannel(Protocol):
    code: str

    def verify_card(self, card_no: str, holder_name: str) -> None: ...

    def charge(self, request_id: str, card_no: str, amount_fen: int) -> str:
        """Move money from the card to the platform's reserve: SUCCEEDED or FAILED."""
        ...

    def payout(self, request_id: str, card_no: str, amount_fen: int) -> str:
        """Move money from the platform's reserve to the card: SUCCEEDED or FAILED."""
        ...

    def query(self, request_id: str) -> str:
        """The outcome of an earlier request: SUCCEEDED, FAILED, or UNKNOWN (never received)."""
        ...

    def statement(self, day: date) -> BankStatement:
        """The bank's statement of ``day`` (business time zone)."""
        ...
