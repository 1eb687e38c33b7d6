"""JSON logs through structlog, configured once at server start (ADR 0412).

Every line is one JSON object with ``timestamp`` (UTC), ``level``, ``logger``, ``event`` and
what the context carries: ``request_id``, ``caller`` and ``unit`` (bound by the API for the
request), ``command`` (bound when a command is submitted) and ``unit`` (bound by each unit
writer's thread). The standard library's ``logging`` — the platform's own loggers, uvicorn's,
libraries' — goes through the same formatter, so there is one format on one stream.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from typing import IO, Any

import structlog

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _drop_color(logger: Any, name: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's terminal copy of the message
    return event


def configure_logging(level: int | str = logging.INFO, stream: IO[str] | None = None) -> None:
    """Route structlog and stdlib logging to one JSON handler on ``stream`` (stderr)."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_color,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False, default=str),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True


# The current HTTP request's facts (request id, caller, unit, command), one mutable dict per
# request: what a dependency or a worker thread of the request notes, the access log and the
# latency histogram see (a copied context shares the dict).
REQUEST_INFO: ContextVar[dict[str, Any] | None] = ContextVar("qianbao_request", default=None)


def note(**values: Any) -> None:
    """Add ``values`` to the current request's facts and to every later log line of it."""
    info = REQUEST_INFO.get()
    if info is not None:
        info.update(values)
        structlog.contextvars.bind_contextvars(**values)
