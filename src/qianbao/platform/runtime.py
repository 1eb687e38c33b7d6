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

from qianbao.platform import routing
from qianbao.platform.breaker import Breakers
from qianbao.platform.broker import NatsDelivery
from qianbao.platform.commands import CommandBus
from qianbao.platform.controls import Controls
from qianbao.platform.db import Database, Row
from qianbao.platform.errors import BucketMoving
from qianbao.platform.ids import bucket_of
from qianbao.platform.messages import Relay
from qianbao.platform.remote import OwnedRelay, RemoteWriter, read_only_url
from qianbao.platform.routing import parse_route_table
from qianbao.platform.settings import Settings
from qianbao.platform.writer import UnitWriter

log = logging.getLogger("qianbao.platform")


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # bucket -> home unit (the route table; today's even split unless configured)
        self.routes = parse_route_table(settings.route_table, settings.unit_count)
        # buckets whose writes are paused for a move, and the route version in force (ADR 0935)
        self.paused_buckets: frozenset[int] = frozenset()
        self.route_gate = threading.Lock()  # a pause and a writer's queue put exclude each other
        self.route_version = 0
        # Distributed mode: each unit is written by its own process (``qianbao serve-unit``);
        # this process writes only the units it owns and sends the others' commands there.
        self.distributed = bool(settings.unit_endpoints)
        self.owned_units: tuple[int, ...] = tuple(
            int(u)
            for u in settings.owned_units
            or (() if self.distributed else range(settings.unit_count))
        )
        self.global_db = Database(settings.global_database_url, name="global")
        self.units = self._unit_databases()
        self.writers = self._unit_writers()
        self.relay = self._relay()
        self.channels: dict[str, Any] = {}
        self.commands = CommandBus(self)  # the handler table of every unit command
        self.money: Any = None  # the money-movement engine's ports, wired by bootstrap
        # package -> its stable error codes (a StrEnum), registered by bootstrap; the API lists them
        self.error_codes: dict[str, Iterable[str]] = {}
        self._caches_and_ports()
        # wealth: Yu'e Bao's configuration and fund company (``wealth.state.Yuebao``)
        self.wealth: Any = None
        # scoring: the credit product's behaviour and repricing (scoring.ports), wired by bootstrap
        self.credit_behaviour: Any = None
        # notices: the notification gateway and its limits (notices.service.Notices), by bootstrap
        self.notices: Any = None
        # billpay: the biller channel (billpay.channel.BillerChannel), wired by bootstrap
        self.billers: Any = None
        # data at rest: the envelope-encryption vault (platform.crypto.Vault), opened by bootstrap
        self.vault: Any = None
        # web: the console's last ledger check, (monotonic seconds, the result)
        self.ledger_check: tuple[float, Any] | None = None
        # flow limits and degradation switches (platform/controls.py), circuit breakers
        self.controls = Controls(self.global_db, settings)
        self.breakers = Breakers(
            settings.breaker_failures,
            settings.breaker_window_s,
            settings.breaker_open_s,
            settings.breaker_calls_max,
        )
        self.started = False

    def _caches_and_ports(self) -> None:
        """The caches that were module globals (so two platforms in one process never share
        them) and the ports the packages above wire in at bootstrap."""
        # members: token hash -> (user id, expires at ms), cleared whole at its bound
        self.token_cache: dict[str, tuple[str, int]] = {}
        # members: API key hash -> (owner type, owner id, key id, expires at ms or 0), and the
        # revocation epoch last seen [monotonic ms of the look, epoch]: both caches are dropped
        # when any process revokes a credential (members/revocation.py)
        self.key_cache: dict[str, tuple[str, str, str, int]] = {}
        self.revocation_state: list[int] = [-(10**12), -1]
        # members: one-time codes for step-up checks (members.stepup.OneTimeCodes), by bootstrap
        self.step_up: Any = None
        # members: merchant id -> (monotonic ms when read, the row), read for 5 s on the pay path
        self.merchant_cache: dict[str, tuple[int, Row]] = {}
        # members: user id -> (monotonic ms when read, the row), read by password-free payments
        # until a change drops it (global_cache.forget), at most a minute
        self.user_cache: dict[str, tuple[int, Row]] = {}
        self.cache_generation = 0  # moved by every drop of a cached global row
        # scoring: scorecard version -> the loaded card; the lock trains the first card only once
        self.scorecards: dict[str, Any] = {}
        self.scorecard_lock = threading.Lock()
        # credit: its configuration (credit.config.config_for), loaded on first use
        self.credit_config: Any = None
        # credit: Huabei auto-debit sources tried after the wallet and before the bound card
        # (``credit.ports.AutodebitSource``: Yu'e Bao), in order, wired by bootstrap
        self.autodebit_sources: list[Any] = []
        # members: checks run on each newly registered user (``members.ports.RegistrationScreen``:
        # the AML watch list), wired by bootstrap
        self.registration_screens: list[Any] = []
        # payments.moneyout: what must stay in a merchant's balance before a payout
        # (``moneyout.ports.PayoutHold``: bills a biller has not answered), wired by bootstrap
        self.payout_holds: list[Any] = []
        # marketing.reductions: (monotonic ms when read, the live campaigns), read for 5 s
        self.live_reductions: tuple[int, list[Row]] | None = None
        # payments: trades created here, by id, until their first pay's caller takes them (its
        # terms never change; the unit's writer checks the status), bounded (payments.trades)
        self.created_trades: dict[str, Row] = {}

    def _unit_databases(self) -> list[Database]:
        """Every unit's database: writable for the owned units, read-only for the others."""
        s = self.settings
        return [
            Database(
                read_only_url(s.unit_database_url(u))
                if self.distributed and u not in self.owned_units
                else s.unit_database_url(u),
                synchronous=s.sqlite_synchronous,
                name=f"unit{u}",
            )
            for u in range(s.unit_count)
        ]

    def _unit_writers(self) -> list[UnitWriter]:
        """A writer per unit; in the distributed mode a unit owned by another process is written
        through that process (only the owned units' writers start)."""
        s = self.settings
        return [
            UnitWriter(
                u,
                db,
                self,
                batch_max=s.writer_batch_max,
                queue_max=s.writer_queue_max,
                timeout_ms=s.writer_timeout_ms,
                wait_ms=s.writer_wait_ms,
            )
            if u in self.owned_units or not self.distributed
            else RemoteWriter(u, s, self)
            for u, db in enumerate(self.units)
        ]

    def _relay(self) -> Relay:
        transport = self.settings.relay_transport
        relay = OwnedRelay(self) if self.distributed else Relay(self)
        if transport == "nats":  # between unit processes through the broker
            relay.delivery = NatsDelivery(relay)
        elif transport != "memory":
            raise ValueError(f"relay_transport must be memory or nats, not {transport!r}")
        return relay

    # --- ownership: the units whose writer, jobs and consumers run in this process ---------
    def owns(self, unit: int) -> bool:
        return unit in self.owned_units

    def owned_dbs(self) -> list[tuple[int, Database]]:
        """(unit, database) of the owned units: where this process's periodic jobs write."""
        return [(unit, self.units[unit]) for unit in self.owned_units]

    # --- routing: id -> bucket -> unit ------------------------------------------------------
    def unit_of_bucket(self, bucket: int) -> int:
        return self.routes[bucket]

    def first_bucket(self, unit: int) -> int:
        """A bucket that routes to ``unit`` (for ids of unit-local records such as vouchers)."""
        if unit not in self.routes:  # a unit just added, before its first bucket moves in:
            return 0  # its local records (vouchers, holds) are never routed by id (ADR 0936)
        return self.routes.index(unit)

    def unit_of(self, entity_id: str) -> int:
        """The home unit of ``entity_id``; while its bucket moves, ``BucketMoving`` (503) for
        callers, never for the platform's own threads (writers, relay: ADR 0935)."""
        bucket = bucket_of(entity_id)
        if bucket in self.paused_buckets and not routing.is_internal_thread():
            raise BucketMoving(f"bucket {bucket} is moving to another unit; retry shortly")
        return self.routes[bucket]

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
        for unit in self.owned_units:
            self.writers[unit].start()
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
        if self.wealth is not None:
            self.wealth.close()
        if self.billers is not None:
            self.billers.close()
        for db in [self.global_db, *self.units]:
            db.close()
        self.started = False

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
