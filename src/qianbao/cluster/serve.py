"""Running one unit process (``qianbao serve-unit N``) or one access-layer process
(``qianbao serve`` with ``unit_endpoints`` set)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse

from qianbao.bootstrap import open_platform
from qianbao.cluster.buckets import commands as bucket_commands
from qianbao.cluster.unit_app import build_unit_app
from qianbao.platform import id_nodes
from qianbao.platform.errors import UnitUnavailable
from qianbao.platform.global_cache import CacheInvalidator
from qianbao.platform.lease import Lease, LeaseHeld, acquire, fence_writer
from qianbao.platform.remote import serve_on_this_loop
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings
from qianbao.server import build_app

log = logging.getLogger("qianbao.cluster")
EXIT_LEASE_HELD = 3
EXIT_LEASE_LOST = 70


@dataclass
class Process:
    """One running process of the cluster: its platform, its HTTP app, what it holds."""

    p: Platform
    app: Any  # the FastAPI app (access layer) or the unit's Starlette app
    leases: list[Lease] = field(default_factory=list)
    invalidator: CacheInvalidator | None = None
    id_node: id_nodes.IdNode | None = None

    def close(self) -> None:
        if self.invalidator is not None:
            self.invalidator.stop()
        self.p.close()
        for lease in self.leases:
            lease.release()
        if self.id_node is not None:
            self.id_node.release()


class NotConfigured(RuntimeError):
    """The settings do not describe a distributed deployment."""


def unit_address(settings: Settings, unit: int) -> tuple[str, int]:
    """Where unit ``unit``'s process listens: the host and port of its endpoint."""
    if not settings.unit_endpoints:
        raise NotConfigured(
            "serve-unit needs unit_endpoints (one URL per unit; see docs/deploy.md)"
        )
    if not 0 <= unit < settings.unit_count:
        raise NotConfigured(f"unit {unit} does not exist ({settings.unit_count} units)")
    parts = urlsplit(settings.unit_endpoints[unit])
    return parts.hostname or "127.0.0.1", parts.port or 80


def take_leases(settings: Settings, units: tuple[int, ...], wait_s: float) -> list[Lease]:
    """Every owned unit's lease, or none (``LeaseHeld`` for the first one held elsewhere)."""
    leases: list[Lease] = []
    try:
        for unit in units:
            leases.append(acquire(settings.unit_database_url(unit), unit, wait_s=wait_s))
    except LeaseHeld:
        for lease in leases:
            lease.release()
        raise
    return leases


def _lost(lease: Lease) -> None:
    """The lease is gone: another process may own the unit now, so this one stops at once."""
    log.critical("unit %s: lease lost, exiting without writing anything more", lease.unit)
    os._exit(EXIT_LEASE_LOST)


def open_unit_process(
    settings: Settings,
    unit: int,
    *,
    lease_wait_s: float = 0.0,
    on_lost: Callable[[Lease], None] = _lost,
) -> Process:
    """Lease, then platform (writer, relay of its own outbox), then the unit endpoint."""
    unit_address(settings, unit)
    settings = settings.with_(owned_units=(unit,))
    leases = take_leases(settings, (unit,), lease_wait_s)
    node: id_nodes.IdNode | None = None
    try:
        node = id_nodes.claim_for_this_process(settings.global_database_url)
        p = open_platform(settings, run_migrations=False)
        bucket_commands.register(p)  # a bucket move's commands (ADR 0935)
    except BaseException:
        _give_back(leases, node)
        raise
    if p.units[unit].dialect == "postgresql":
        try:
            fence_writer(p.writers[unit], unit, wait_s=max(lease_wait_s, 5.0))
        except BaseException:
            p.close()
            _give_back(leases, node)
            raise
    for lease in leases:
        lease.watch(on_lost)
    return Process(p, build_unit_app(p, leases), leases, _invalidator(p), node)


def _give_back(leases: list[Lease], node: id_nodes.IdNode | None) -> None:
    for lease in leases:
        lease.release()
    if node is not None:
        node.release()


def _invalidator(p: Platform) -> CacheInvalidator | None:
    if p.global_db.dialect != "postgresql":
        return None  # one process (SQLite): its own changes drop its own entries
    return CacheInvalidator(p).start()


def _unit_unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnitUnavailable)
    return JSONResponse(
        {"code": exc.code, "message": exc.message},
        status_code=503,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


def open_access_process(settings: Settings) -> Process:
    """A stateless access-layer process: no writer, no lease, no jobs; commands go to the
    units' processes, reads to the unit databases through read-only sessions."""
    if not settings.unit_endpoints:
        raise NotConfigured("the access layer needs unit_endpoints (one URL per unit)")
    settings = settings.with_(owned_units=())
    node = id_nodes.claim_for_this_process(settings.global_database_url)
    try:
        p = open_platform(settings, run_migrations=False)
    except BaseException:
        node.release()
        raise
    app = build_app(p)
    app.add_exception_handler(UnitUnavailable, _unit_unavailable)
    app.router.on_startup.append(partial(serve_on_this_loop, p))  # threads' commands: ADR 0416
    return Process(p, app, [], _invalidator(p), node)
