"""Transactional messages between units (the seeds' 消息事务模式).

A command records its message as PREPARED inside its own business transaction (the outbox),
so the message exists if and only if the business change committed. After the batch commits the
writer confirms the batch's messages; a relay delivers CONFIRMED messages at least once to the
destination unit, whose consumer records each message id in an inbox in the same transaction as
its effect, so redelivery, duplication and reordering never apply an effect twice. A checker asks
the business side about PREPARED messages left unconfirmed (a crash between commit and confirm)
and confirms or cancels them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import new_id
from qianbao.platform.metrics import RELAY_LAG, RELAY_PENDING
from qianbao.platform.routing import mark_internal_thread
from qianbao.platform.states import StateMachine
from qianbao.platform.uow import own_tables
from qianbao.platform.writer import WriteContext

if TYPE_CHECKING:
    from qianbao.platform.runtime import Platform

log = logging.getLogger("qianbao.messages")

Handler = Callable[[WriteContext, dict[str, Any]], None]
Checker = Callable[[Tx, dict[str, Any]], bool]
RELAY_BATCH_MAX = 500
# Born PREPARED in the business transaction; confirmed after its commit (or by check-back, which
# may cancel it); SENT once delivered; DEAD after too many failed deliveries, until requeued.
# ``_update_status`` (confirm, mark SENT or CANCELLED, many messages in one statement) still
# writes the column itself; this table is what it does.
MESSAGE = StateMachine(
    "message",
    "messages",
    {
        "PREPARED": {"CONFIRMED", "CANCELLED"},
        "CONFIRMED": {"SENT", "DEAD"},
        "DEAD": {"CONFIRMED"},
    },
    initial={"PREPARED"},
)


_INBOX_INSERT = "INSERT INTO inbox (message_id, topic, handled_at_ms) VALUES (:id, :topic, :now)"


class _Outbox:
    """Batch participant: the batch's messages, written with one statement just before the batch
    commits (in the same transaction as the business changes) and confirmed once it has."""

    tables = own_tables("messages")

    def __init__(self, ctx: WriteContext) -> None:
        self.ctx = ctx
        self.on_confirmed: Callable[[], None] = ctx.platform.relay.wake
        self.rows: list[dict[str, Any]] = []
        self.written: list[str] = []

    def mark(self) -> tuple[int, int]:
        return len(self.rows), len(self.written)

    def rollback_to(self, mark: tuple[int, int] | None) -> None:
        rows, written = mark or (0, 0)
        del self.rows[rows:]
        del self.written[written:]  # flushed inside a rolled-back savepoint

    def flush(self, tx: Tx) -> bool:
        if not self.rows:
            return False
        tx.execute_values(
            "INSERT INTO messages (id, dest_unit, topic, payload, status, attempts,"
            " created_at_ms, updated_at_ms)"
            " VALUES (:id, :dest, :topic, :payload, 'PREPARED', 0, :now, :now)",
            self.rows,
        )
        self.written += [row["id"] for row in self.rows]
        self.rows.clear()
        return True

    def before_commit(self, tx: Tx) -> None:
        self.flush(tx)

    def after_commit(self) -> None:
        if self.written:
            self.ctx.defer(_Confirmation(self.written, self.on_confirmed))


class _Confirmation:
    """Confirming a committed batch's messages: it rides in the writer's next transaction (one
    statement, no fsync of its own) or runs alone, non-durably, if no batch follows soon."""

    def __init__(self, ids: list[str], on_confirmed: Callable[[], None]) -> None:
        self.ids = ids
        self.on_confirmed = on_confirmed

    def run(self, tx: Tx, *, in_batch: bool) -> None:
        if in_batch:
            _update_status(tx, self.ids, "CONFIRMED", attempted=False)
        else:
            confirm(tx, self.ids)

    def done(self) -> None:
        self.on_confirmed()


def send(ctx: WriteContext, dest_unit: int, topic: str, payload: dict[str, Any]) -> str:
    """Record a message in the current command's transaction (status PREPARED)."""
    outbox: _Outbox = ctx.participant("outbox", _Outbox)
    message_id = new_id(dest_unit)
    outbox.rows.append(
        {
            "id": message_id,
            "dest": dest_unit,
            "topic": topic,
            "payload": json.dumps(payload, sort_keys=True),
            "now": clock.now_ms(),
        }
    )
    return message_id


def send_at_commit(ctx: WriteContext, dest_unit: int, topic: str, payload: dict[str, Any]) -> str:
    """``send`` from a batch participant's ``before_commit``: the outbox may have written its
    rows already, so this message is written at once (same transaction, before the commit)."""
    message_id = send(ctx, dest_unit, topic, payload)
    outbox: _Outbox = ctx.participant("outbox", _Outbox)
    outbox.flush(ctx.db)
    return message_id


def _set_status(tx: Tx, ids: list[str], status: str, *, durable: bool) -> None:
    """Mark messages; a lost confirmation is recovered by check-back, so it need not fsync."""
    if not durable and tx.dialect == "sqlite":
        tx.execute("PRAGMA synchronous=NORMAL")
    tx.begin()
    try:
        if not durable and tx.dialect == "postgresql":
            tx.execute("SET LOCAL synchronous_commit = off")
        _update_status(tx, ids, status, attempted=False)
        tx.commit()
    except BaseException:
        tx.rollback()
        raise
    finally:
        if not durable and tx.dialect == "sqlite":
            tx.execute("PRAGMA synchronous=FULL")


def _update_status(tx: Tx, ids: list[str], status: str, *, attempted: bool) -> None:
    """One statement for many messages (``attempted`` counts a delivery attempt)."""
    now_ms = clock.now_ms()
    tx.execute_values(
        "WITH d (id, status, now, tried) AS (VALUES (:id, :status, :now, :tried))"
        " UPDATE messages SET status = d.status, updated_at_ms = d.now,"
        " attempts = messages.attempts + d.tried FROM d WHERE messages.id = d.id",
        [{"id": i, "status": status, "now": now_ms, "tried": int(attempted)} for i in ids],
    )


def confirm(tx: Tx, ids: list[str]) -> None:
    _set_status(tx, ids, "CONFIRMED", durable=False)


def consume(ctx: WriteContext, message: Row) -> bool:
    """Apply a delivered message exactly once; False when it was already handled."""
    fresh = ctx.tx.execute(
        "INSERT INTO inbox (message_id, topic, handled_at_ms) VALUES (:id, :topic, :now)"
        " ON CONFLICT (message_id) DO NOTHING",
        {"id": message["id"], "topic": message["topic"], "now": clock.now_ms()},
    )
    if not fresh:
        return False
    ctx.platform.relay.handlers[message["topic"]](ctx, json.loads(message["payload"]))
    return True


def _consume_all(ctx: WriteContext, messages: list[Row]) -> list[str]:
    """One command for many messages. They run together inside one savepoint (their inbox rows
    staged with the batch); if one fails, the group is undone and each message runs again in
    its own savepoint, so a failing one is retried later and does not hold the others back."""
    todo = _unhandled(ctx, messages)
    failing: Row | None = None
    try:
        with ctx.savepoint():
            for failing in todo:
                ctx.stage_insert(
                    _INBOX_INSERT,
                    {"id": failing["id"], "topic": failing["topic"], "now": clock.now_ms()},
                )
                ctx.platform.relay.handlers[failing["topic"]](ctx, json.loads(failing["payload"]))
    except Exception:
        assert failing is not None
        log.exception("message %s (%s) failed; will retry", failing["id"], failing["topic"])
        return _consume_each(ctx, [m for m in messages if m["id"] != failing["id"]])
    return [message["id"] for message in messages]


def _unhandled(ctx: WriteContext, messages: list[Row]) -> list[Row]:
    """The messages whose id is not in the inbox yet, each once (one read for the group)."""
    by_id = {message["id"]: message for message in messages}
    ids = list(by_id)
    done: set[str] = set()
    for first in range(0, len(ids), RELAY_BATCH_MAX):
        chunk = ids[first : first + RELAY_BATCH_MAX]
        marks = ", ".join(f":m{k}" for k in range(len(chunk)))
        rows = ctx.tx.all(
            f"SELECT message_id FROM inbox WHERE message_id IN ({marks})",
            {f"m{k}": message_id for k, message_id in enumerate(chunk)},
        )
        done.update(str(row["message_id"]) for row in rows)
    return [message for message_id, message in by_id.items() if message_id not in done]


def _consume_each(ctx: WriteContext, messages: list[Row]) -> list[str]:
    handled = []
    for message in messages:
        try:
            with ctx.savepoint():
                consume(ctx, message)
        except Exception:
            log.exception("message %s (%s) failed; will retry", message["id"], message["topic"])
            continue
        handled.append(message["id"])
    return handled


class Delivery(Protocol):
    """How confirmed messages reach their destination unit: in this process (``InProcess``,
    the embedded default) or through a broker (``platform/broker.py``)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def drain(self) -> int:
        """Hand over what is pending in the owned units (bounded); how many were handed over."""
        ...

    def problem(self) -> str | None:
        """Why messages cannot move now (broker unreachable), or None."""
        ...


class InProcess:
    """The embedded relay: the destination unit's writer, in memory, in this process."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def drain(self) -> int:
        return self.relay.drain_in_process()

    def problem(self) -> str | None:
        return None


class Relay:
    """Delivers confirmed messages and checks back on old prepared ones, on a thread."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        # topic -> its idempotent consumer (runs in the destination unit's writer) and its
        # check-back (did the business transaction behind a prepared message commit?); filled
        # by bootstrap through ``subscribe``
        self.handlers: dict[str, Handler] = {}
        self.checkers: dict[str, Checker] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.delivery: Delivery = InProcess(self)
        self._warned: set[int] = set()  # destination units this process cannot reach

    def subscribe(self, topic: str, handler: Handler, checker: Checker) -> None:
        if topic in self.handlers:
            raise ValueError(f"topic {topic} already has a consumer")
        self.handlers[topic], self.checkers[topic] = handler, checker

    def wake(self) -> None:
        self._wake.set()

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is None:
            self.delivery.start()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="relay", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout=30)
            self._thread = None
            self.delivery.stop()

    def _run(self) -> None:
        interval_s = self.platform.settings.relay_interval_ms / 1000
        mark_internal_thread()  # delivers to a paused bucket too (ADR 0935)
        while not self._stop.is_set():
            self._wake.wait(timeout=interval_s)
            self._wake.clear()
            try:
                self.drain()
                self.check_back()
            except Exception:
                log.exception("relay pass failed; will retry")

    def pending(self, unit: int, status: str = "CONFIRMED") -> list[Row]:
        with self.platform.units[unit].read() as tx:
            return tx.all(
                "SELECT * FROM messages WHERE status = :status ORDER BY created_at_ms, id"
                " LIMIT :limit",
                {"status": status, "limit": RELAY_BATCH_MAX},
            )

    def drain(self) -> int:
        """Hand over the owned units' confirmed messages through the delivery (bounded)."""
        return self.delivery.drain()

    def drain_in_process(self, max_rounds: int = 1000) -> int:
        """Deliver until no confirmed message is left (bounded); returns how many were sent."""
        sent = 0
        for _ in range(max_rounds):
            moved = 0
            for unit in self.platform.owned_units:
                batch = self.pending(unit)
                RELAY_PENDING.labels(str(unit)).set(len(batch))
                if batch:
                    moved += self.deliver(unit, batch)
            sent += moved
            if not moved:
                break
        return sent

    def deliver(self, source_unit: int, batch: list[Row]) -> int:
        """Deliver ``batch`` (any order, duplicates allowed) and mark what was handled SENT."""
        by_dest: dict[int, list[Row]] = {}
        for message in batch:
            by_dest.setdefault(message["dest_unit"], []).append(message)
        # In one process every unit is here; a unit process reaches the others' writers over
        # HTTP (``RemoteWriter``); otherwise another process owns it and only a broker reaches it
        # (relay_transport = "nats").
        unreachable = (
            [] if self.platform.distributed else [d for d in by_dest if not self.platform.owns(d)]
        )
        for dest in unreachable:
            if dest not in self._warned:
                self._warned.add(dest)
                log.warning("unit %s is owned by another process: its messages wait", dest)
            batch = [m for m in batch if m["dest_unit"] != dest]
            del by_dest[dest]
        futures = [
            self.platform.writers[dest].submit_async(partial(_consume_all, messages=group))
            for dest, group in by_dest.items()
        ]
        done: set[str] = set()
        for future in futures:
            done.update(future.result(timeout=60))
        if done:
            self.platform.writers[source_unit].submit(_marker(sorted(done), "SENT"))
            self.delivered += len(done)
            now_ms, lag = clock.now_ms(), RELAY_LAG.labels("memory")
            for message in batch:
                if message["id"] in done:
                    lag.observe(max(0, now_ms - message["created_at_ms"]) / 1000)
        failed = sorted({m["id"] for m in batch} - done)
        if failed:
            limit = self.platform.settings.message_max_attempts
            self.platform.writers[source_unit].submit(partial(_failed, ids=failed, limit=limit))
        return len(done)

    def dead(self) -> list[Row]:
        """Messages that failed ``message_max_attempts`` times, oldest first (all units)."""
        rows: list[Row] = []
        for unit in self.platform.owned_units:
            rows += self.pending(unit, "DEAD")
        return rows

    def requeue_dead(self) -> int:
        """Give every DEAD message a fresh set of attempts (after the cause is fixed)."""
        requeued = 0
        for unit in self.platform.owned_units:
            ids = [m["id"] for m in self.pending(unit, "DEAD")]
            if ids:
                self.platform.writers[unit].submit(partial(_requeue, ids=ids))
                requeued += len(ids)
        self.wake()
        return requeued

    def requeue_one(self, message_id: str) -> int:
        """A fresh set of attempts for one DEAD message; 0 when it is not (or no longer) DEAD."""
        for unit in self.platform.owned_units:
            if any(m["id"] == message_id for m in self.pending(unit, "DEAD")):
                self.platform.writers[unit].submit(partial(_requeue, ids=[message_id]))
                self.wake()
                return 1
        return 0

    def check_back(self) -> int:
        """Confirm or cancel PREPARED messages older than the check-back age."""
        cutoff_ms = clock.now_ms() - self.platform.settings.message_checkback_after_s * 1000
        resolved = 0
        for unit in self.platform.owned_units:
            old = [m for m in self.pending(unit, "PREPARED") if m["created_at_ms"] <= cutoff_ms]
            if not old:
                continue

            def resolve(ctx: WriteContext, old: list[Row] = old) -> int:
                for m in old:
                    check = ctx.platform.relay.checkers[m["topic"]]
                    committed = check(ctx.tx, json.loads(m["payload"]))
                    _mark(ctx.tx, [m["id"]], "CONFIRMED" if committed else "CANCELLED")
                return len(old)

            resolved += self.platform.writers[unit].submit(resolve)
        if resolved:
            self.wake()
        return resolved


def _failed(ctx: WriteContext, ids: list[str], limit: int) -> None:
    """Count a failed delivery; at ``limit`` failures the message is DEAD (logged), so a broken
    consumer is retried a bounded number of times and shows up for an operator."""
    ctx.tx.executemany(
        "UPDATE messages SET attempts = attempts + 1, updated_at_ms = :now"
        " WHERE id = :id AND status = 'CONFIRMED'",
        [{"id": i, "now": clock.now_ms()} for i in ids],
    )
    for i in ids:
        row = ctx.tx.one("SELECT status, attempts, topic FROM messages WHERE id = :id", {"id": i})
        if row is None:
            continue
        if row["status"] == "CONFIRMED" and row["attempts"] >= limit:
            MESSAGE.move(ctx.tx, i, "CONFIRMED", "DEAD")
        elif row["status"] != "DEAD":
            continue
        log.error("message %s (%s) is DEAD after %s attempts", i, row["topic"], limit)


def _requeue(ctx: WriteContext, ids: list[str]) -> None:
    """A fresh set of attempts for DEAD messages (one already requeued is left as it is)."""
    for i in ids:
        MESSAGE.move_all(ctx.tx, {"id": i}, "DEAD", "CONFIRMED", attempts=0)


def _marker(ids: list[str], status: str) -> Callable[[WriteContext], None]:
    return lambda ctx: _mark(ctx.tx, ids, status)


def _mark(tx: Tx, ids: list[str], status: str) -> None:
    _update_status(tx, ids, status, attempted=True)
