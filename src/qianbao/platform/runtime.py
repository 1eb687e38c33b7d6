"""The running platform: its databases, unit writers, router and relay.

``Platform`` is the composition root of the PaaS layer. Domain services receive it as their
first argument and reach unit data only through ``unit_of`` / ``writer_for``.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Iterable
from typing import Any

from qianbao.platform.commands import CommandBus
from qianbao.platform.db import Database, Row
from qianbao.platform.ids import BUCKETS, bucket_of
from qianbao.platform.messages import Relay
from qianbao.platform.settings import Settings
from qianbao.platform.writer import UnitWriter

log = logging.getLogger("qianbao.platform")


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.global_db = Database(settings.global_database_url, name="global")
        self.units = [
            Database(
                settings.unit_database_url(u),
                synchronous=settings.sqlite_synchronous,
                name=f"unit{u}",
            )
            for u in range(settings.unit_count)
        ]
        self.writers = [
            UnitWriter(
                u,
                db,
                self,
                batch_max=settings.writer_batch_max,
                queue_max=settings.writer_queue_max,
                timeout_ms=settings.writer_timeout_ms,
                wait_ms=settings.writer_wait_ms,
            )
            for u, db in enumerate(self.units)
        ]
        self.relay = Relay(self)
        self.channels: dict[str, Any] = {}
        self.commands = CommandBus(self)  # the handler table of every unit command
        self.money: Any = None  # the money-movement engine's ports, wired by bootstrap
        # package -> its stable error codes (a StrEnum), registered by bootstrap; the API lists them
        self.error_codes: dict[str, Iterable[str]] = {}
        # Caches that were module globals, so two platforms in one process never share them:
        # members: token hash -> (user id, expires at ms), cleared whole at its bound
        self.token_cache: dict[str, tuple[str, int]] = {}
        # members: merchant id -> (monotonic ms when read, the row), read for 5 s on the pay path
        self.merchant_cache: dict[str, tuple[int, Row]] = {}
        # members: user id -> (monotonic ms when read, the row), read for 2 s by password-free
        # payments; every change this process makes to a user drops its entry
        self.user_cache: dict[str, tuple[int, Row]] = {}
        # scoring: scorecard version -> the loaded card; the lock trains the first card only once
        self.scorecards: dict[str, Any] = {}
        self.scorecard_lock = threading.Lock()
        # credit: its configuration (credit.config.config_for), loaded on first use
        self.credit_config: Any = None
        # scoring: the credit product's behaviour and repricing (scoring.ports), wired by bootstrap
        self.credit_behaviour: Any = None
        # notices: the notification gateway and its limits (notices.service.Notices), by bootstrap
        self.notices: Any = None
        # web: the console's last ledger check, (monotonic seconds, the result)
        self.ledger_check: tuple[float, Any] | None = None
        self.started = False

    # --- routing: id -> bucket -> unit ------------------------------------------------------
    def unit_of_bucket(self, bucket: int) -> int:
        return bucket * len(self.units) // BUCKETS

    def first_bucket(self, unit: int) -> int:
        """A bucket that routes to ``unit`` (for ids of unit-local records such as vouchers)."""
        return -(-unit * BUCKETS // len(self.units))

    def unit_of(self, entity_id: str) -> int:
        return self.unit_of_bucket(bucket_of(entity_id))

    def writer_for(self, entity_id: str) -> UnitWriter:
        return self.writers[self.unit_of(entity_id)]

    def db_for(self, entity_id: str) -> Database:
        return self.units[self.unit_of(entity_id)]

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, *, relay: bool = True) -> Platform:
        sys.setswitchinterval(self.settings.gil_switch_interval_ms / 1000)
        if self.settings.gc_gen0_threshold:
            if not gc.get_freeze_count():  # once per process: modules, tables, startup objects
                gc.collect()
                gc.freeze()
            _, gen1, gen2 = gc.get_threshold()
            gc.set_threshold(self.settings.gc_gen0_threshold, gen1, gen2)
        for writer in self.writers:
            writer.start()
        if relay:
            self.relay.start()
        self.started = True
        return self

    def close(self) -> None:
        self.relay.stop()
        for writer in self.writers:
            writer.stop()
        for channel in [*self.channels.values(), getattr(self.notices, "gateway", None)]:
            close = getattr(channel, "close", None)
            if close:
                close()
        for db in [self.global_db, *self.units]:
            db.close()
        self.started = False

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
