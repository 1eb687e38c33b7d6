"""The channel journal (渠道流水): our own record of every money request sent to a bank.

``JournaledChannel`` wraps a channel. Before a charge or payout leaves, the request is written as
SENT; the bank's answer (or a query's) updates it to SUCCEEDED / FAILED, and a timeout leaves it
UNKNOWN. Reconciliation compares this journal with the bank's statement line by line, so a
request the bank processed but we never settled (or the reverse) is found the next day instead of
hiding in a log. Everything else (card checks, the simulator's own administration) passes
through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qianbao.channels.base import FAILED, SUCCEEDED, UNKNOWN, BankChannel, ChannelTimeout
from qianbao.platform.clock import clock
from qianbao.platform.crypto import Vault
from qianbao.platform.db import Database
from qianbao.platform.states import StateMachine

SENT = "SENT"
UNANSWERED = (SENT, UNKNOWN)  # a timeout may be answered later, by a query or a resend
# A request is journaled SENT before it leaves; one adopted from the bank's statement (a line we
# never sent, see ``resolve``) is recorded as the bank reported it, SUCCEEDED.
REQUEST = StateMachine(
    "channel request",
    "channel_requests",
    {state: {SUCCEEDED, FAILED, UNKNOWN} for state in UNANSWERED},
    key=("channel", "request_id"),
    stamp=None,
    initial={SENT, SUCCEEDED},
)


def account_context(channel: str, request_id: str) -> str:
    return f"channel_requests:{channel}:{request_id}"


def open_account_no(vault: Vault, row: Mapping[str, Any]) -> str:
    """The card number a journaled request went to, opened from its sealed form ('' for a line
    adopted from the bank's statement, which names none)."""
    sealed = str(row["account_no"])
    if not sealed:
        return ""
    return vault.decrypt(sealed, account_context(str(row["channel"]), str(row["request_id"])))


class JournaledChannel:
    """The card number of each request is journaled sealed (``platform/crypto.py``)."""

    __slots__ = ("inner", "db", "code", "vault")

    def __init__(self, inner: BankChannel, db: Database, vault: Vault) -> None:
        object.__setattr__(self, "inner", inner)
        object.__setattr__(self, "db", db)
        object.__setattr__(self, "code", inner.code)
        object.__setattr__(self, "vault", vault)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.inner, name, value)  # e.g. a test turning the simulator's failure rate up

    def charge(self, request_id: str, card_no: str, amount_fen: int) -> str:
        return self._send("charge", request_id, card_no, amount_fen)

    def payout(self, request_id: str, card_no: str, amount_fen: int) -> str:
        return self._send("payout", request_id, card_no, amount_fen)

    def query(self, request_id: str) -> str:
        status = self.inner.query(request_id)
        if status != UNKNOWN:
            self._answer(request_id, status)
        return status

    def _send(self, kind: str, request_id: str, account_no: str, amount_fen: int) -> str:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO channel_requests (channel, request_id, kind, account_no, amount_fen,"
                " status, sent_at_ms) VALUES (:c, :r, :k, :a, :f, 'SENT', :now)"
                " ON CONFLICT (channel, request_id) DO NOTHING",
                {
                    "c": self.code,
                    "r": request_id,
                    "k": kind,
                    "a": self.vault.encrypt(account_no, account_context(self.code, request_id)),
                    "f": amount_fen,
                    "now": clock.now_ms(),
                },
            )
        call = self.inner.charge if kind == "charge" else self.inner.payout
        try:
            status = call(request_id, account_no, amount_fen)
        except ChannelTimeout:
            self._answer(request_id, UNKNOWN)
            raise
        self._answer(request_id, status)
        return status

    def _answer(self, request_id: str, status: str) -> None:
        """Record the bank's answer on a request not answered yet (else it changes nothing)."""
        key = {"channel": self.code, "request_id": request_id}
        with self.db.transaction() as tx:
            REQUEST.move_all(tx, key, UNANSWERED, status, answered_at_ms=clock.now_ms())
