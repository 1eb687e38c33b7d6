"""The request's context (device, client IP, user agent, location), carried by every money
command so the risk check in the payer's unit sees where the request came from.

The entry points (HTTP API, gateway) set it per request with ``use``; the use cases copy
``current()`` into the command they build (``pay.command`` does it for every ``Pay``), so a new
product gets it for free. It travels as one compact JSON string: commands stay plain data.
None of it is trusted blindly: a device id and a location are what the client says (they may
raise a risk score, never lower it below what the amounts and lists say); the IP is the
socket's peer unless a configured proxy forwarded it (see docs/risk/context.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace

FIELD_MAX_CHARS = 200
_current: ContextVar[str] = ContextVar("qianbao_request_context", default="")


@dataclass(frozen=True, slots=True)
class RequestContext:
    device_id: str = ""
    ip: str = ""
    user_agent: str = ""
    location: str = ""  # "lat,lon" in degrees, as the client says
    challenge_id: str = ""  # a step-up the payer answered for exactly this movement

    def encode(self) -> str:
        fields = {k: v[:FIELD_MAX_CHARS] for k, v in asdict(self).items() if v}
        return json.dumps(fields, separators=(",", ":"), sort_keys=True) if fields else ""

    def with_challenge(self, challenge_id: str) -> RequestContext:
        return replace(self, challenge_id=challenge_id)


def decode(encoded: str) -> RequestContext:
    """The context a command carries ("" or a JSON object; unknown keys are ignored)."""
    if not encoded:
        return RequestContext()
    try:
        data = json.loads(encoded)
    except ValueError:
        return RequestContext()
    if not isinstance(data, dict):
        return RequestContext()
    names = RequestContext.__dataclass_fields__
    return RequestContext(**{k: str(v)[:FIELD_MAX_CHARS] for k, v in data.items() if k in names})


def current() -> str:
    """The encoded context of the request being served ("" outside a request)."""
    return _current.get()


@contextmanager
def use(context: RequestContext | str) -> Iterator[None]:
    """Serve a request (or resume a challenged movement) under ``context``."""
    token = _current.set(context if isinstance(context, str) else context.encode())
    try:
        yield
    finally:
        _current.reset(token)
