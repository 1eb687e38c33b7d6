"""One send per response: the HTTP protocol our servers run (``uvicorn ... http=OneWriteHttp``).

uvicorn writes a response's status line and headers, then its body, as two ``transport.write``
calls; each is a ``send`` system call at once, and on the loopback each wakes the reader. A
profile of the embedded server under load put 16–18 % of the event loop's thread there. Here
the connection's transport collects what one step of the event loop writes and sends it as
one buffer at the end of that step (``call_soon``): a plain response leaves in one segment, a
streamed one still leaves chunk by chunk, as each step writes it. Closing sends what is
collected first, so nothing written is ever dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneWrite:
    """A transport that sends each event-loop step's writes as one ``write``."""

    __slots__ = ("_transport", "_parts", "_loop")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._parts: list[bytes] = []
        self._loop = loop

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._parts:
            self._loop.call_soon(self.flush)
        self._parts.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._parts:
            return
        parts, self._parts = self._parts, []
        if not self._transport.is_closing():
            self._transport.write(parts[0] if len(parts) == 1 else b"".join(parts))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return sum(map(len, self._parts)) + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class OneWriteHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol on a ``OneWrite`` transport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWrite(transport, self.loop))  # type: ignore[arg-type]
