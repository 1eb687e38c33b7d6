"""The unit writer: one thread owns a unit's write connection and group-commits commands.

A command is a function of a ``WriteContext``. The writer takes what is waiting (up to
``writer_batch_max``), runs the commands in one transaction, commits once — one fsync for the
whole batch — and then answers every caller. A failing command fails alone: the batch is then
run again with each command inside its own SAVEPOINT (savepoints cost two statements a
command, so the common batch where everything succeeds goes without them). A command must
therefore only change the database and its ``WriteContext`` state, as it may run twice. A full
queue is a ``Busy`` error, never an unbounded wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from qianbao.platform.db import Database, Tx
from qianbao.platform.errors import Busy

T = TypeVar("T")
log = logging.getLogger("qianbao.writer")
_STOP = object()


class BatchParticipant(Protocol):
    """Batch-scoped state (see ``WriteContext.state``) that must follow savepoints: what a
    rolled-back command staged is dropped, what committed is written before the batch commits."""

    def mark(self) -> Any: ...
    def rollback_to(self, mark: Any) -> None: ...
    def before_commit(self, tx: Tx) -> None: ...
    def after_commit(self) -> None: ...


class WriteContext:
    """What a command sees: the unit, its transaction and batch-scoped state."""

    def __init__(self, unit: int, tx: Tx, platform: Any) -> None:
        self.unit = unit
        self.tx = tx
        self.platform = platform
        self._state: dict[str, BatchParticipant] = {}
        self._depth = 0

    def state(self, key: str, factory: Callable[[], Any]) -> Any:
        item = self._state.get(key)
        if item is None:
            item = self._state[key] = factory()
        return item

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Run a block in a SAVEPOINT: if it raises, its rows and its staged state are undone."""
        marks = {key: item.mark() for key, item in self._state.items()}
        self._depth += 1
        name = f"sp{self._depth}"
        self.tx.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.tx.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.tx.execute(f"RELEASE SAVEPOINT {name}")
            for key, item in self._state.items():
                item.rollback_to(marks.get(key))
            raise
        else:
            self.tx.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            self._depth -= 1

    def _each(self, method: str, *args: Any) -> None:
        for item in list(self._state.values()):
            getattr(item, method)(*args)


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
    ) -> None:
        self.unit = unit
        self.db = db
        self.platform = platform
        self.batch_max = batch_max
        self.timeout_s = timeout_ms / 1000
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_max)
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.commands = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"writer-u{self.unit}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, command: Callable[[WriteContext], T]) -> T:
        """Run ``command`` in the unit's next batch and return its result (or raise its error)."""
        return self.submit_async(command).result(timeout=self.timeout_s)

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
        try:
            self._queue.put_nowait((command, waiter))
        except queue.Full:
            raise Busy(f"unit {self.unit} is busy, retry later") from None

    def _run(self) -> None:
        tx = self.db.connect()
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            stop = False
            while len(batch) < self.batch_max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._execute(tx, batch)
            if stop:
                break
        tx.raw.close()

    def _execute(self, tx: Tx, batch: list[tuple[Callable[[WriteContext], Any], Waiter]]) -> None:
        """Run a batch in one transaction. Commands run without savepoints first (two statements
        fewer each); if one fails, that attempt is rolled back and the batch runs again with a
        savepoint per command, so the failing command fails alone and the others commit."""
        live = [
            (command, waiter)
            for command, waiter in batch
            if not isinstance(waiter, Future) or waiter.set_running_or_notify_cancel()
        ]
        try:
            done = self._attempt(tx, live, savepoints=False) or self._attempt(
                tx, live, savepoints=True
            )
            assert done is not None  # the savepoint attempt always finishes
            ctx, outcomes = done
        except BaseException as exc:  # the batch as a whole failed: nobody's change stands
            log.exception("unit %s batch of %s failed", self.unit, len(batch))
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
        _answer(outcomes)

    def _attempt(
        self,
        tx: Tx,
        live: list[tuple[Callable[[WriteContext], Any], Waiter]],
        *,
        savepoints: bool,
    ) -> tuple[WriteContext, list[tuple[Waiter, bool, Any]]] | None:
        """One try at the batch: committed outcomes, or None when a command failed without
        savepoints (the transaction is then rolled back and nothing of the try remains)."""
        ctx = WriteContext(self.unit, tx, self.platform)
        outcomes: list[tuple[Waiter, bool, Any]] = []
        tx.begin()
        for command, waiter in live:
            ok, value = (_in_savepoint if savepoints else _bare)(ctx, command)
            if not ok and not savepoints:
                tx.rollback()
                if len(live) == 1:  # alone in its batch: its failure is the batch's answer
                    return WriteContext(self.unit, tx, self.platform), [(waiter, False, value)]
                return None
            outcomes.append((waiter, ok, value))
        ctx._each("before_commit", tx)
        tx.commit()
        return ctx, outcomes


def _bare(ctx: WriteContext, command: Callable[[WriteContext], Any]) -> tuple[bool, Any]:
    try:
        return True, command(ctx)
    except Exception as exc:
        return False, exc


def _in_savepoint(ctx: WriteContext, command: Callable[[WriteContext], Any]) -> tuple[bool, Any]:
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


Waiter = Future[Any] | _AioWaiter


def _answer(outcomes: list[tuple[Waiter, bool, Any]]) -> None:
    """Answer thread callers directly and each event loop once for all of its callers."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for waiter, ok, value in outcomes:
        if isinstance(waiter, _AioWaiter):
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
