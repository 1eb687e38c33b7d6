"""The gateways a notice leaves through: SMS, app push and e-mail.

``NoticeGateway`` is what a real provider adapter implements (an SMS aggregator's HTTP API, APNs
and a vendor push service, an SMTP relay). ``GatewaySimulator`` stands in for all three with its
own database, like the bank simulator: it validates the address the way a provider does, accepts
each message once per client message id (a retried delivery is answered with the first receipt,
as providers do with their idempotency key), can be told to fail a share of requests, and keeps
the delivery log that operators and tests read (what the phone, the app or the inbox received).
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Protocol

from qianbao.notices import store
from qianbao.platform.clock import clock
from qianbao.platform.db import Database, Row

SMS_MAX_CHARS = 500  # a long SMS is split by the carrier; the providers cap the whole text
_PHONE = re.compile(r"^1\d{10}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,180}\.[A-Za-z]{2,24}$")


class GatewayRejected(Exception):
    """The provider refused this message for good (bad address, text too long): no retry."""


class GatewayUnavailable(Exception):
    """The provider could not take it now: retry later."""


@dataclass(frozen=True)
class Outgoing:
    message_id: str  # the notice id: the provider's idempotency key
    channel: str
    address: str
    user_id: str
    kind: str
    language: str
    body: str


class NoticeGateway(Protocol):
    def deliver(self, message: Outgoing) -> str:
        """Hand one message over; returns the provider's reference. Raises GatewayRejected or
        GatewayUnavailable."""
        ...

    def log(self, user_id: str, kind: str | None = None, limit: int = 200) -> list[Row]: ...


def check_address(channel: str, address: str, body: str) -> None:
    if channel == "SMS":
        if not _PHONE.match(address):
            raise GatewayRejected(f"not a mainland mobile number: {address!r}")
        if len(body) > SMS_MAX_CHARS:
            raise GatewayRejected(f"SMS text over {SMS_MAX_CHARS} characters")
    elif channel == "EMAIL":
        if not _EMAIL.match(address):
            raise GatewayRejected(f"not an e-mail address: {address!r}")
    elif channel == "PUSH":
        if not address.startswith("app:"):
            raise GatewayRejected(f"not a push token: {address!r}")
    else:
        raise GatewayRejected(f"unknown channel {channel!r}")


class GatewaySimulator:
    def __init__(self, db: Database, *, failure_rate: float = 0.0, seed: int | None = None):
        self.db = db
        self.failure_rate = failure_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        with db.transaction() as tx:
            store.create_gateway_schema(tx)

    def deliver(self, message: Outgoing) -> str:
        check_address(message.channel, message.address, message.body)
        with self._lock:
            fail = self.failure_rate and self._random.random() < self.failure_rate
        if fail:
            raise GatewayUnavailable(f"{message.channel} provider busy")
        with self.db.transaction() as tx:
            ref = store.gateway_accept(tx, message.__dict__, clock.now_ms())
        return ref

    def log(self, user_id: str, kind: str | None = None, limit: int = 200) -> list[Row]:
        with self.db.read() as tx:
            return store.gateway_log(tx, user_id, kind, limit)

    def close(self) -> None:
        self.db.close()
