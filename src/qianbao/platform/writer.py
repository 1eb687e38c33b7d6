"""The unit writer: one thread owns a unit's write connection and group-commits commands.

A command is a function of a ``WriteContext``. The writer takes what is waiting (up to
``writer_batch_max``), runs the commands in one transaction — they decide in memory and stage
their rows (``platform/uow.py``) — writes the batch with one multi-row statement per table,
commits once (one fsync for the whole batch) and then answers every caller.

A failing command fails alone. When it wrote nothing directly, its staged state is undone in
memory and the batch goes on. Otherwise — or when an optimistic decision does not hold at write
time (``Unverified``) — the try is rolled back and the batch runs again *precisely*: fresh
reads, each command inside its own SAVEPOINT. A command must therefore only change the database
and its ``WriteContext`` state, as it may run twice. A full queue is a ``Busy`` error, never an
unbounded wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import structlog

from qianbao.platform.db import Database, Tx
from qianbao.platform.errors import Busy
from qianbao.platform.metrics import WRITER_BATCH_SIZE, WRITER_COMMIT, WRITER_QUEUE_DEPTH
from qianbao.platform.routing import check_command, mark_internal_thread
from qianbao.platform.uow import BatchParticipant, Deferred, Unverified, WriteContext

__all__ = ["BatchParticipant", "UnitWriter", "Unverified", "WriteContext", "wait_until"]

T = TypeVar("T")
log = logging.getLogger("qianbao.writer")
_STOP = object()


class UnitWriter:
    def __init__(
        self,
        unit: int,
        db: Database,
        platform: Any,
        *,
        batch_max: int = 512,
        queue_max: int = 20_000,
        timeout_ms: int = 10_000,
        wait_ms: float = 0.0,
    ) -> None:
        self.unit = unit
        self.db = db
        self.platform = platform
        self.batch_max = batch_max
        self.timeout_s = timeout_ms / 1000
        self.wait_s = wait_ms / 1000
        self._last_batch = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_max)
        self._thread: threading.Thread | None = None
        self._caches: dict[str, Any] = {}  # see WriteContext.cache
        self._deferred: list[Deferred] = []  # see WriteContext.defer
        self.batches = 0
        self.commands = 0
        self.precise_batches = 0  # batches that had to run again with savepoints

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"writer-u{self.unit}", daemon=True
            )
            self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, command: Callable[[WriteContext], T]) -> T:
        """Run ``command`` in the unit's next batch and return its result (or raise its error)."""
        waiter = _ThreadWaiter()
        self._put(command, waiter)
        result: T = waiter.result(self.timeout_s)
        return result

    def submit_async(self, command: Callable[[WriteContext], T]) -> Future[T]:
        future: Future[T] = Future()
        self._put(command, future)
        return future

    async def run(self, command: Callable[[WriteContext], T]) -> T:
        """``submit`` for asyncio callers: the batch answers each event loop with one wake-up.

        No timer per call: a running writer answers every command it takes, success or error.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put(command, _AioWaiter(loop, future))
        return await future

    def _put(self, command: Callable[[WriteContext], Any], waiter: Waiter) -> None:
        if self._thread is None or not self._thread.is_alive():
            raise Busy(f"unit {self.unit} writer is not running")
        gate = getattr(self.platform, "route_gate", None)
        try:
            if gate is None:
                self._queue.put_nowait((command, waiter))
            else:
                with gate:  # atomic with a pause (ADR 0935)
                    check_command(self.platform.paused_buckets, command)
                    self._queue.put_nowait((command, waiter))
        except queue.Full:
            raise Busy(f"unit {self.unit} is busy, retry later") from None

    def _run(self) -> None:
        structlog.contextvars.bind_contextvars(unit=self.unit)  # this thread's log lines
        mark_internal_thread()  # drains a paused bucket's commands (ADR 0935)
        unit = str(self.unit)
        sizes, times = WRITER_BATCH_SIZE.labels(unit), WRITER_COMMIT.labels(unit)
        depth = WRITER_QUEUE_DEPTH.labels(unit)
        tx = self.db.connect()
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                break
            batch, stop = self._take(item)
            depth.set(self._queue.qsize())
            self._last_batch = len(batch)
            started = time.perf_counter()
            self._execute(tx, batch)
            times.observe(time.perf_counter() - started)
            sizes.observe(len(batch))
        self._run_deferred_alone(tx)
        tx.raw.close()

    def _take(self, first: Any) -> tuple[list[Any], bool]:
        """What is waiting, up to ``batch_max``. Under concurrency (the last batch had more than
        one command) it lingers up to ``wait_ms`` for more: callers get the GIL to submit, and
        a bigger batch costs less per command. A lone caller never waits."""
        batch = [first]
        deadline = None
        while len(batch) < self.batch_max:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                if self.wait_s <= 0 or self._last_batch <= 1:
                    break
                deadline = deadline or time.monotonic() + self.wait_s
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    break
                try:
                    nxt = self._queue.get(timeout=remaining_s)
                except queue.Empty:
                    break
            if nxt is _STOP:
                return batch, True
            batch.append(nxt)
        return batch, False

    def _drop_caches(self) -> None:
        """Forget what the caches believe (they are re-read fresh); keep what was learnt about
        statements (``uow.conflicting``)."""
        for key in [k for k in self._caches if not k.startswith("uow.")]:
            del self._caches[key]

    def _run_deferred_alone(self, tx: Tx) -> None:
        work = list(self._deferred)
        self._deferred.clear()
        for item in work:
            try:
                item.run(tx, in_batch=False)
                item.done()
            except Exception:  # deferred chores are recoverable by design
                log.exception("unit %s deferred work failed", self.unit)

    def _execute(self, tx: Tx, batch: list[tuple[Callable[[WriteContext], Any], Waiter]]) -> None:
        """Run a batch in one transaction: optimistically first, then precisely if it must."""
        live = [
            (command, waiter)
            for command, waiter in batch
            if not isinstance(waiter, Future) or waiter.set_running_or_notify_cancel()
        ]
        try:
            done = self._attempt(tx, live, precise=False)
            if done is None:
                self.precise_batches += 1
                self._drop_caches()
                done = self._attempt(tx, live, precise=True)
            assert done is not None  # the precise attempt always finishes
            ctx, outcomes = done
        except BaseException as exc:  # the batch as a whole failed: nobody's change stands
            log.exception("unit %s batch of %s failed", self.unit, len(batch))
            self._drop_caches()
            with contextlib.suppress(Exception):
                tx.rollback()
            _answer([(waiter, False, exc) for _, waiter in live])
            return
        self.batches += 1
        self.commands += len(outcomes)
        try:
            ctx._each("after_commit")
        except Exception:  # after-commit work is recoverable (check-back); never fail callers
            log.exception("unit %s after-commit hook failed", self.unit)
            self._drop_caches()
        ctx.release()
        if self._deferred and self._queue.empty():  # no batch to ride along with: now
            self._run_deferred_alone(tx)
        _answer(outcomes)

    def _attempt(
        self,
        tx: Tx,
        live: list[tuple[Callable[[WriteContext], Any], Waiter]],
        *,
        precise: bool,
    ) -> tuple[WriteContext, list[tuple[Waiter, bool, Any]]] | None:
        """One try at the batch: committed outcomes, or None when the optimistic try could not
        keep a failure to its command (the transaction is then rolled back, nothing remains)."""
        ctx = WriteContext(
            self.unit,
            tx,
            self.platform,
            caches=self._caches,
            precise=precise,
            deferred=self._deferred,
        )
        outcomes: list[tuple[Waiter, bool, Any]] = []
        riding = list(self._deferred)  # earlier batches' chores commit with this one
        tx.begin()
        for item in riding:
            item.run(tx, in_batch=True)
        for command, waiter in live:
            ok, value = (_in_savepoint if precise else _undoable)(ctx, command)
            if ok is None:  # failed after writing directly: only savepoints can isolate it
                tx.rollback()
                ctx.release()
                self._drop_caches()  # a checkpoint may have moved them past the rollback
                if len(live) == 1 and not isinstance(value, Unverified):  # alone: its answer
                    return WriteContext(self.unit, tx, self.platform), [(waiter, False, value)]
                return None
            outcomes.append((waiter, ok, value))
        try:
            ctx._each("before_commit", ctx.db)
        except Exception:  # an optimistic decision (or a staged insert) did not hold
            if precise:
                raise
            log.info("unit %s batch of %s runs again precisely", self.unit, len(live))
            tx.rollback()
            ctx.release()
            return None
        tx.commit()
        del self._deferred[: len(riding)]
        for item in riding:
            item.done()
        return ctx, outcomes


def _undoable(ctx: WriteContext, command: Callable[[WriteContext], Any]) -> tuple[bool | None, Any]:
    """Run a command without a savepoint. If it fails having written nothing directly, its
    staged state is undone in memory (False); if it wrote, the caller must redo the batch
    (None)."""
    marks = ctx.mark_all()
    ctx.wrote = False
    try:
        return True, command(ctx)
    except Exception as exc:
        if ctx.wrote or isinstance(exc, Unverified):
            return None, exc
        ctx.rollback_all(marks)
        return False, exc


def _in_savepoint(
    ctx: WriteContext, command: Callable[[WriteContext], Any]
) -> tuple[bool | None, Any]:
    try:
        with ctx.savepoint():
            return True, command(ctx)
    except Exception as exc:
        return False, exc


class _AioWaiter:
    """An asyncio caller waiting on its own event loop."""

    __slots__ = ("loop", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self.loop = loop
        self.future = future


class _ThreadWaiter:
    """A thread blocked in ``submit``: it waits on a lock that the writer releases with the
    answer. (A ``Future`` answers through a ``threading.Condition``, whose Python code was up
    to a quarter of a writer's time when every caller is a thread.)"""

    __slots__ = ("_lock", "_ok", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._ok: bool | None = None
        self._value: Any = None

    def settle(self, ok: bool, value: Any) -> None:
        if self._ok is None:  # answered once
            self._ok, self._value = ok, value
            self._lock.release()

    def result(self, timeout_s: float) -> Any:
        if not self._lock.acquire(timeout=timeout_s):
            raise TimeoutError(f"no answer from the unit writer in {timeout_s} s")
        if self._ok:
            return self._value
        error, self._value = self._value, None
        raise error


Waiter = Future[Any] | _AioWaiter | _ThreadWaiter


def _answer(outcomes: list[tuple[Waiter, bool, Any]]) -> None:
    """Answer thread callers directly and each event loop once for all of its callers."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for waiter, ok, value in outcomes:
        if isinstance(waiter, _ThreadWaiter):
            waiter.settle(ok, value)
        elif isinstance(waiter, _AioWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, ok, value))
        elif waiter.done():
            continue
        elif ok:
            waiter.set_result(value)
        else:
            waiter.set_exception(value)
    for loop, group in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_settle_on_loop, group)


def _settle_on_loop(group: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in group:
        if future.done():  # the caller timed out or went away
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()
