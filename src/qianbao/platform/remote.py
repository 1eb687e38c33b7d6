"""A unit in another process: its writer's stand-in, and the relay side of a unit process.

In the distributed mode (``unit_endpoints`` set) every process has one writer slot per unit.
The units it owns have a real ``UnitWriter``; every other slot is a ``RemoteWriter``, which
sends what it is given to the owning process over HTTP/1.1 keep-alive (``unit_wire.py``,
docs/decisions/0402-access-to-unit-transport.md):

* a bound command (``CommandBus.bind``), or a registered command that is its own writer
  callable (``ledger.service.OpenAccount``), travels as data (``CommandBus.encode``) to
  ``POST {endpoint}/unit/v1/{unit}/commands``, or with the others that arrived while every
  lane was busy to ``POST .../batch`` (``unit_wire.CommandLanes``; commands from threads go
  through the server's event loop for that, ``serve_on``); its idempotency key travels inside
  it, so a retry after a lost answer is answered from the unit's idempotency record, never
  applied twice;
* a relay delivery (``messages._consume_all``) travels as the message rows to
  ``POST .../messages``; the destination records each id in its inbox, and the source marks a
  message SENT only after that answer, so an unanswered delivery is delivered again;
* anything else (a closure over this process's memory) cannot travel: ``NotDistributed``.

A unit that does not accept the connection within ``unit_connect_timeout_ms`` or does not
answer within ``unit_timeout_ms`` is ``UnitUnavailable`` (503 with Retry-After): never a hang.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from qianbao.platform.commands import BoundCommand
from qianbao.platform.errors import NotDistributed, QianbaoError, UnitUnavailable
from qianbao.platform.messages import Relay, _consume_all
from qianbao.platform.unit_wire import (
    AsyncUnitClient,
    CommandLanes,
    NoAnswer,
    NotSent,
    SyncUnitClient,
)
from qianbao.platform.writer import UnitWriter, WriteContext

if TYPE_CHECKING:
    from qianbao.platform.db import Row
    from qianbao.platform.runtime import Platform
    from qianbao.platform.settings import Settings

log = logging.getLogger("qianbao.remote")
T = TypeVar("T")
DOWN_LOG_EVERY_S = 10.0
AWAY = frozenset({421, 503})  # the unit process refused before running anything
AWAY_PAUSE_S = 0.1
COMMANDS, MESSAGES = "commands", "messages"  # the unit endpoint's two kinds of request


def read_only_url(url: str) -> str:
    """A PostgreSQL URL whose sessions refuse writes (another process owns the unit); SQLite
    URLs are left as they are (the lease file keeps a second writer out)."""
    if not url.startswith("postgres"):
        return url
    option = "options=" + quote("-c default_transaction_read_only=on")
    return url + ("&" if "?" in url else "?") + option


def jsonable(value: Any) -> Any:
    """A handler's result as plain JSON values (rows become objects)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "keys") and hasattr(value, "__getitem__"):  # sqlite3.Row
        return {str(k): jsonable(value[k]) for k in value.keys()}  # noqa: SIM118 (a Row iterates values)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def encode_error(exc: BaseException) -> dict[str, Any]:
    """A domain error as data; anything else is an internal error of the unit."""
    if isinstance(exc, QianbaoError):
        kind = type(exc)
        return {
            "type": f"{kind.__module__}.{kind.__qualname__}",
            "code": str(exc.code),
            "message": exc.message,
            "http_status": exc.http_status,
        }
    return {"type": "internal", "code": "INTERNAL_ERROR", "message": repr(exc), "http_status": 500}


@functools.cache
def _error_classes() -> dict[str, type[QianbaoError]]:
    found: dict[str, type[QianbaoError]] = {}
    todo: list[type[QianbaoError]] = [QianbaoError]
    while todo:
        kind = todo.pop()
        found[f"{kind.__module__}.{kind.__qualname__}"] = kind
        todo += kind.__subclasses__()
    return found


class UnitInternalError(RuntimeError):
    """The unit process failed with an error that is not a domain error (a bug, logged there)."""


def decode_error(data: Mapping[str, Any]) -> Exception:
    """The same exception class the unit raised (so callers catching it behave the same)."""
    if data.get("type") == "internal":
        return UnitInternalError(str(data.get("message")))
    kind = _error_classes().get(str(data.get("type"))) or QianbaoError
    exc = kind.__new__(kind)
    QianbaoError.__init__(exc, str(data.get("message") or ""), code=str(data.get("code") or ""))
    if kind is QianbaoError:
        exc.http_status = int(data.get("http_status") or 400)
    return exc


class RemoteWriter(UnitWriter):
    """The writer slot of a unit owned by another process (see the module docstring)."""

    def __init__(self, unit: int, settings: Settings, platform: Platform) -> None:
        super().__init__(unit, platform.units[unit], platform)
        endpoints = settings.unit_endpoints
        if len(endpoints) != settings.unit_count:
            raise ValueError(
                f"unit_endpoints lists {len(endpoints)} endpoints for {settings.unit_count} units"
            )
        self.endpoint = endpoints[unit].rstrip("/")
        self.retry_after_s = settings.unit_retry_after_s
        self._timeouts = (settings.unit_connect_timeout_ms / 1000, settings.unit_timeout_ms / 1000)
        self._retry_window_s = settings.unit_retry_window_ms / 1000
        self._client: SyncUnitClient | None = None
        self._async: dict[asyncio.AbstractEventLoop, AsyncUnitClient] = {}
        self._lanes: dict[asyncio.AbstractEventLoop, CommandLanes] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.sent = 0

    # --- the UnitWriter interface ------------------------------------------------------------
    def start(self) -> None:  # the owning process runs the writer
        return None

    def stop(self) -> None:
        with self._lock:
            self._client = None
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None
            for client in self._async.values():
                client.close()
            self._async.clear()
            self._lanes.clear()
            self._loop = None

    def submit(self, command: Callable[[WriteContext], T]) -> T:
        """From a thread: a command goes through the event loop of this process when there is
        one (``serve_on``), so it shares the loop's requests with the others (``CommandLanes``);
        otherwise, and for relay deliveries, on this thread's own connection."""
        path, body = self._request(command)
        loop = self._loop
        if path == COMMANDS and loop is not None and loop.is_running() and not _on(loop):
            wait_s = sum(self._timeouts) + self._retry_window_s + 1.0
            future = asyncio.run_coroutine_threadsafe(self._run_command(body), loop)
            try:
                return future.result(timeout=wait_s)  # type: ignore[no-any-return]
            except TimeoutError:
                future.cancel()
                raise self._unavailable(NoAnswer(f"no answer within {wait_s:.0f} s")) from None
        deadline = time.monotonic() + self._window_s(path)
        url = self._path(path)
        while True:
            try:
                status, answer = self._sync_client().post(url, self._envelope(path, body))
            except NotSent as exc:
                if time.monotonic() + AWAY_PAUSE_S >= deadline:
                    raise self._unavailable(exc) from None
                time.sleep(AWAY_PAUSE_S)
                continue
            except NoAnswer as exc:
                raise self._unavailable(exc) from None
            if status not in AWAY or time.monotonic() + AWAY_PAUSE_S >= deadline:
                return self._answer(status, _loads(answer))  # type: ignore[no-any-return]
            time.sleep(AWAY_PAUSE_S)

    def submit_async(self, command: Callable[[WriteContext], T]) -> Future[T]:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(8, thread_name_prefix=f"remote-u{self.unit}")
            pool = self._pool
        return pool.submit(self.submit, command)

    @property
    def batched_requests(self) -> int:
        """Requests that carried several commands (``CommandLanes``), over every loop."""
        return sum(lanes.batches for lanes in list(self._lanes.values()))

    def serve_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop of this process's server: threads send their commands through it."""
        self._loop = loop

    async def run(self, command: Callable[[WriteContext], T]) -> T:
        """Sent again while the unit is away and nothing was applied (not reachable, 421,
        503), for at most ``unit_retry_window_ms``; an unanswered request is not resent here
        (the caller repeats it with its request id)."""
        path, body = self._request(command)
        if path == COMMANDS:
            return await self._run_command(body)  # type: ignore[no-any-return]
        try:  # a relay delivery: not sent again here (the relay comes back to it)
            status, answer = await self._async_client().post(self._path(path), body)
        except (NotSent, NoAnswer) as exc:
            raise self._unavailable(exc) from None
        return self._answer(status, _loads(answer))  # type: ignore[no-any-return]

    async def _run_command(self, command: bytes) -> Any:
        deadline = time.monotonic() + self._retry_window_s
        lanes = self._lanes_here()
        while True:
            try:
                status, answer = await lanes.send(command)
            except NotSent as exc:
                if time.monotonic() + AWAY_PAUSE_S >= deadline:
                    raise self._unavailable(exc) from None
                await asyncio.sleep(AWAY_PAUSE_S)
                continue
            except NoAnswer as exc:
                raise self._unavailable(exc) from None
            if status not in AWAY or time.monotonic() + AWAY_PAUSE_S >= deadline:
                return self._answer(status, answer)
            await asyncio.sleep(AWAY_PAUSE_S)

    def _window_s(self, path: str) -> float:
        """Commands wait a moment for a unit that is away; relay deliveries do not (the
        relay moves on to the other destinations and comes back)."""
        return self._retry_window_s if path == COMMANDS else 0.0

    # --- the wire ------------------------------------------------------------------------------
    def _request(self, command: Callable[[WriteContext], Any]) -> tuple[str, bytes]:
        """Which endpoint (``COMMANDS`` or ``MESSAGES``) and the JSON of what goes there."""
        bus = self.platform.commands
        if isinstance(command, BoundCommand) or bus.knows(command):
            data = command.command if isinstance(command, BoundCommand) else command
            return COMMANDS, _dumps(bus.encode(data))
        if isinstance(command, functools.partial) and command.func is _consume_all:
            rows = [jsonable(m) for m in command.keywords["messages"]]
            return MESSAGES, _dumps({"messages": rows})
        name = getattr(command, "__qualname__", type(command).__name__)
        raise NotDistributed(
            f"{name} is not a command that can be sent to unit {self.unit}'s process;"
            " this operation runs only in the embedded mode for now"
        )

    def _path(self, kind: str) -> str:
        return f"/unit/v1/{self.unit}/{kind}"

    @staticmethod
    def _envelope(kind: str, body: bytes) -> bytes:
        return b'{"command":' + body + b"}" if kind == COMMANDS else body

    def _lanes_here(self) -> CommandLanes:
        loop = asyncio.get_running_loop()
        lanes = self._lanes.get(loop)
        if lanes is None:
            lanes = self._lanes[loop] = CommandLanes(self._async_client(), self.unit)
        return lanes

    def _sync_client(self) -> SyncUnitClient:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = SyncUnitClient(self.endpoint, *self._timeouts)
                client = self._client
        return client

    def _async_client(self) -> AsyncUnitClient:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = AsyncUnitClient(self.endpoint, *self._timeouts)
        return client

    def _unavailable(self, exc: Exception) -> UnitUnavailable:
        if isinstance(exc, NotSent):
            what = "is not reachable (down or restarting); nothing was applied"
        else:
            what = (
                f"did not answer ({exc}); the request may or may not have been"
                " applied: retry it with the same request id"
            )
        log.warning("unit %s at %s %s", self.unit, self.endpoint, what)
        return UnitUnavailable(f"unit {self.unit} {what}", retry_after_s=self.retry_after_s)

    def _answer(self, status: int, data: Any) -> Any:
        """What the unit answered (``data``: the decoded JSON, None if it was not JSON)."""
        if status in (421, 502, 503, 504):  # not the owner (yet), or shutting down
            raise UnitUnavailable(
                f"unit {self.unit} is not being served at {self.endpoint}"
                f" ({status}); retry shortly",
                retry_after_s=self.retry_after_s,
            )
        if not isinstance(data, dict):
            raise UnitInternalError(f"unit {self.unit} answered {status}")
        self.sent += 1
        if data.get("ok"):
            return data.get("result")
        raise decode_error(data.get("error") or {})


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _loads(answer: bytes) -> Any:
    try:
        return json.loads(answer)
    except ValueError:
        return None


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this thread runs ``loop`` (waiting on it from here would never end)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


async def serve_on_this_loop(platform: Platform) -> None:
    """At server start: the remote writers send the threads' commands through this loop."""
    loop = asyncio.get_running_loop()
    for writer in platform.writers:
        if isinstance(writer, RemoteWriter):
            writer.serve_on(loop)


class OwnedRelay(Relay):
    """The relay of a unit process: it reads, delivers and checks back only the outboxes of
    the units this process owns (each unit process relays its own messages; delivery to a
    unit owned elsewhere goes through that unit's ``RemoteWriter``)."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self._down_logged: dict[int, float] = {}

    def pending(self, unit: int, status: str = "CONFIRMED") -> list[Row]:
        if unit not in self.platform.owned_units:
            return []
        return super().pending(unit, status)

    def deliver(self, source_unit: int, batch: list[Row]) -> int:
        """Deliver per destination, so a destination that is down (its messages stay pending
        in this outbox until it is back) does not hold back the others; a down unit is logged
        once every ``DOWN_LOG_EVERY_S``, not on every pass."""
        by_dest: dict[int, list[Row]] = {}
        for message in batch:
            by_dest.setdefault(int(message["dest_unit"]), []).append(message)
        sent = 0
        for dest, group in sorted(by_dest.items()):
            try:
                sent += super().deliver(source_unit, group)
            except UnitUnavailable as exc:
                now = time.monotonic()
                if now - self._down_logged.get(dest, -DOWN_LOG_EVERY_S) >= DOWN_LOG_EVERY_S:
                    self._down_logged[dest] = now
                    log.warning("%s message(s) wait for unit %s: %s", len(group), dest, exc)
        return sent
