"""Commands as data: every money write is a frozen dataclass handled through one table.

A command carries everything its unit needs to execute it (the use case's reads and
authorisation happened before, see ``money_movement.pay.prepare``), so it can be logged,
replayed, or sent to another process unchanged: ``encode`` turns it into plain JSON values and
``decode`` back. ``CommandBus.submit`` / ``run`` hand a command to its unit's writer, where the
registered handler executes it inside the batch's transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qianbao.platform.errors import InvalidArgument
from qianbao.platform.logs import note
from qianbao.platform.writer import WriteContext

if TYPE_CHECKING:
    from qianbao.platform.runtime import Platform

Handler = Callable[[WriteContext, Any], Any]


class BoundCommand:
    """A command bound to its handler: the writer's unit of work, which still knows its command
    (so a unit in another process can be sent the command as data instead)."""

    __slots__ = ("command", "handler")

    def __init__(self, handler: Handler, command: Any) -> None:
        self.handler = handler
        self.command = command

    def __call__(self, ctx: WriteContext) -> Any:
        return self.handler(ctx, self.command)


def run_itself(ctx: WriteContext, command: Any) -> Any:
    """The handler of a command that is its own writer callable (``__call__(ctx)``)."""
    return command(ctx)


class CommandBus:
    """The handler table of one platform: command type -> handler, filled by ``bootstrap``."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._handlers: dict[type, Handler] = {}
        self._types: dict[str, type] = {}
        self._fields: dict[type, tuple[str, ...]] = {}

    def register(self, kind: type, handler: Handler) -> None:
        assert dataclasses.is_dataclass(kind), f"{kind.__name__} must be a dataclass"
        if kind in self._handlers and self._handlers[kind] is not handler:
            raise ValueError(f"{kind.__name__} already has a handler")
        self._handlers[kind] = handler
        self._types[kind.__name__] = kind
        self._fields[kind] = tuple(f.name for f in dataclasses.fields(kind))

    def bind(self, command: Any) -> BoundCommand:
        """The writer callable executing ``command`` (the writer's unit of work)."""
        handler = self._handlers.get(type(command))
        if handler is None:
            raise LookupError(f"no handler for {type(command).__name__}")
        return BoundCommand(handler, command)

    def knows(self, command: Any) -> bool:
        """Whether ``command`` is a registered command (data that can be encoded)."""
        return type(command) in self._handlers

    def submit(self, unit: int, command: Any) -> Any:
        note(command=type(command).__name__)
        return self._platform.writers[unit].submit(self.bind(command))

    async def run(self, unit: int, command: Any) -> Any:
        note(command=type(command).__name__)
        return await self._platform.writers[unit].run(self.bind(command))

    # --- serialisation -----------------------------------------------------------------------
    def encode(self, command: Any) -> dict[str, Any]:
        """``{"type": "Pay", "fields": {...}}``, to be written as JSON at once: the fields are
        the command's own values, not copies (a command's fields are plain values: strings,
        numbers, lists and dicts of them; ``dataclasses.asdict`` deep-copied every one, a third
        of the cost of sending a payment to its unit)."""
        names = self._fields.get(type(command))
        if names is None:
            raise LookupError(f"{type(command).__name__} is not a registered command")
        return {"type": type(command).__name__, "fields": {n: getattr(command, n) for n in names}}

    def decode(self, data: dict[str, Any]) -> Any:
        kind = self._types.get(str(data.get("type")))
        if kind is None:
            raise InvalidArgument(f"unknown command type {data.get('type')!r}")
        names = self._fields[kind]
        fields = data.get("fields") or {}
        if len(fields) != len(names) or not all(n in fields for n in names):
            raise InvalidArgument(f"{kind.__name__} needs exactly the fields {sorted(names)}")
        return kind(**fields)
