"""The HTTP/1.1 keep-alive client of the unit endpoints (docs/decisions/0402).

A command is one small POST with a JSON body and a small JSON answer, to a server we also
write (``cluster/unit_app.py``: every answer has a Content-Length). General-purpose clients
spend more time on their own machinery than on such a request (httpx: about 1 ms of CPU per
call, much of it in a failed import on every response), so the access layer speaks the little
HTTP/1.1 it needs itself: a pool of persistent connections per unit (asyncio streams on the
event loop, ``http.client`` for threads), TCP_NODELAY, one write per request.

Errors are split by what the caller may assume: ``NotSent`` (the connection could not be made:
nothing was applied) and ``NoAnswer`` (sent, but the answer was lost or late: the command may or
may not have been applied). A kept connection that turns out closed when used is tried once
more on a new one; that can send a command twice when the unit died after reading it, which
is safe because every command is idempotent (its request id, or its purpose's state; relay
deliveries by the inbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

MAX_CONNECTIONS = 256  # per unit and event loop; more callers wait for a free one


class NotSent(Exception):
    """The request never reached the unit (refused, unreachable, connect timeout)."""


class NoAnswer(Exception):
    """The request was sent but no complete answer came back in time."""


def _request_bytes(host: str, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class AsyncUnitClient:
    """Persistent connections to one unit endpoint, for one event loop."""

    def __init__(self, endpoint: str, connect_timeout_s: float, timeout_s: float) -> None:
        parts = urlsplit(endpoint)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connect_timeout_s, self.timeout_s = connect_timeout_s, timeout_s
        self._idle: list[_Conn] = []
        self._slots: asyncio.Semaphore | None = None  # made on the loop that uses it

    async def _connect(self) -> _Conn:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout_s
            )
        except (OSError, TimeoutError) as exc:
            raise NotSent(f"{type(exc).__name__}: {exc}") from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(reader, writer)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """One request on a kept (or new) connection, at most ``MAX_CONNECTIONS`` at once."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        async with self._slots:
            return await self._post(path, body)

    async def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        data = _request_bytes(self.host, path, body)
        while self._idle:  # a kept connection may have been closed by the unit (restart)
            conn = self._idle.pop()
            if conn.reader.at_eof() or conn.writer.is_closing():
                conn.close()
                continue
            try:
                return await self._exchange(conn, data, fresh=False)
            except _Stale:
                continue
        return await self._exchange(await self._connect(), data, fresh=True)

    async def _exchange(self, conn: _Conn, data: bytes, *, fresh: bool) -> tuple[int, bytes]:
        try:
            conn.writer.write(data)
            status, answer = await asyncio.wait_for(_read_response(conn.reader), self.timeout_s)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            conn.close()
            if not fresh and isinstance(exc, asyncio.IncompleteReadError) and not exc.partial:
                raise _Stale from None  # closed while idle, before reading our request
            raise NoAnswer(f"{type(exc).__name__}: {exc}") from None
        self._idle.append(conn)
        return status, answer

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class _Stale(Exception):
    """A kept connection the server had closed: nothing was read, try another one."""


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("answer without Content-Length")
    return status, await reader.readexactly(length)


class SyncUnitClient:
    """Persistent connections to one unit endpoint, one per calling thread."""

    def __init__(self, endpoint: str, connect_timeout_s: float, timeout_s: float) -> None:
        parts = urlsplit(endpoint)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connect_timeout_s, self.timeout_s = connect_timeout_s, timeout_s
        self._local = threading.local()

    def _conn(self) -> tuple[http.client.HTTPConnection, bool]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None:
            return conn, False
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout_s)
        try:
            conn.connect()
        except OSError as exc:
            raise NotSent(f"{type(exc).__name__}: {exc}") from None
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock.settimeout(self.timeout_s)
        self._local.conn = conn
        return conn, True

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        for _ in range(2):
            conn, fresh = self._conn()
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                self._local.conn = None
                if fresh:
                    raise NoAnswer(f"{type(exc).__name__}: {exc}") from None
                # a kept connection the unit had closed: once more on a new one (our request
                # was not read by anyone, or the disconnect is reported again on the new one)
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                raise NoAnswer(f"{type(exc).__name__}: {exc}") from None
        raise NoAnswer("the unit closed the connection twice")


# --- many commands per request ---------------------------------------------------------------
LANES = 4  # requests in flight per unit and event loop; the commands arriving meanwhile wait
BATCH_MAX = 200  # commands per request at most


class CommandLanes:
    """The commands of one event loop for one unit, sent on at most ``LANES`` requests at once.

    A command that finds a lane free goes at once, alone (``POST .../commands``): at low load
    nothing waits. The commands that arrive while every lane is busy go together, as one
    ``POST .../batch``, when the next lane frees: at high load one request, one parse and one
    answer serve many commands, on both sides, and the unit's writer still commits them in one
    group. Each command gets its own outcome ``(status, answer object)``; a request that fails
    fails every command it carried with the same ``NotSent`` or ``NoAnswer``."""

    def __init__(self, client: AsyncUnitClient, unit: int) -> None:
        self.client, self.unit = client, unit
        self.waiting: list[tuple[bytes, asyncio.Future[tuple[int, Any]]]] = []
        self.busy = 0
        self.batches = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, command: bytes) -> tuple[int, Any]:
        """``command``: the JSON of one encoded command. Its status and decoded answer."""
        future: asyncio.Future[tuple[int, Any]] = asyncio.get_running_loop().create_future()
        self.waiting.append((command, future))
        if self.busy < LANES:
            self._next()
        return await future

    def _next(self) -> None:
        batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
        self.busy += 1
        task = asyncio.get_running_loop().create_task(self._post(batch))
        self._tasks.add(task)  # kept until done (the loop holds tasks weakly)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, batch: list[tuple[bytes, asyncio.Future[tuple[int, Any]]]]) -> None:
        try:
            outcomes = await self._exchange([command for command, _ in batch])
        except BaseException as exc:  # NotSent, NoAnswer, or this task cancelled at shutdown
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else NoAnswer("stop"))
            if not isinstance(exc, Exception):
                raise
        else:
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():  # its caller may have gone (a cancelled request)
                    future.set_result(outcome)
        finally:
            self.busy -= 1
            if self.waiting and self.busy < LANES:
                self._next()

    async def _exchange(self, commands: list[bytes]) -> list[tuple[int, Any]]:
        if len(commands) == 1:
            path, body = f"/unit/v1/{self.unit}/commands", b'{"command":' + commands[0] + b"}"
            status, answer = await self.client.post(path, body)
            return [(status, _loads(answer))]
        self.batches += 1
        body = b'{"commands":[' + b",".join(commands) + b"]}"
        status, answer = await self.client.post(f"/unit/v1/{self.unit}/batch", body)
        data = _loads(answer)
        results = data.get("results") if status == 200 and isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) != len(commands):
            return [(status if status != 200 else 502, data)] * len(commands)
        return [(int(r.pop("status", 200)), r) for r in results]


def _loads(answer: bytes) -> Any:
    try:
        return json.loads(answer)
    except ValueError:
        return None
