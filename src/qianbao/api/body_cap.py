"""The door's cap on request bodies: no request makes this process hold more than
``BODY_MAX_BYTES`` of body (the largest request any endpoint takes, a merchant's batch of
payment codes, is about 20 KB; the open-platform gateway keeps its own, smaller cap).

A declared ``Content-Length`` over the cap is answered at once, before the body is read; a body
without one (chunked) is counted as it arrives and refused as soon as it passes the cap. Either
way the answer is ``413 {code: REQUEST_TOO_LARGE, message}`` and nothing was done: the body is
refused before an endpoint has all of it.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from qianbao.api.errors import RequestTooLarge
from qianbao.api.flow import rejected
from qianbao.platform.errors import InvalidArgument

BODY_MAX_BYTES = 1024 * 1024


def declared_over(headers: dict[bytes, bytes], cap_bytes: int = BODY_MAX_BYTES) -> bool:
    """Whether the declared length is over the cap (a length that is not a number is bad
    input: ``InvalidArgument``)."""
    declared = headers.get(b"content-length")
    if declared is None:
        return False
    try:
        length = int(declared)
    except ValueError:
        raise InvalidArgument("Content-Length is not a number") from None
    if length < 0:
        raise InvalidArgument("Content-Length is negative")
    return length > cap_bytes


def too_large(cap_bytes: int = BODY_MAX_BYTES) -> RequestTooLarge:
    return RequestTooLarge(f"the request body is over {cap_bytes:,} bytes")


class Cap:
    """An undeclared body, counted as it arrives. Once it passes the cap, ``receive`` raises
    ``RequestTooLarge`` (the endpoint stops reading) and the ``guard``ed send answers 413 in
    place of whatever the application answers to the cut body (FastAPI reports a body it could
    not read as a 400 of its own)."""

    def __init__(self, receive: Receive, cap_bytes: int = BODY_MAX_BYTES) -> None:
        self._receive = receive
        self.cap_bytes = cap_bytes
        self.seen_bytes = 0
        self.over = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen_bytes += len(message.get("body", b""))
            if self.seen_bytes > self.cap_bytes:
                self.over = True
        if self.over:
            raise too_large(self.cap_bytes)
        return message

    def guard(self, scope: Scope, send: Send) -> Send:
        answered = False

        async def guarded(message: Message) -> None:
            nonlocal answered
            if not self.over:
                await send(message)
            elif not answered:
                answered = True
                await rejected(too_large(self.cap_bytes))(scope, self._receive, send)

        return guarded
