"""What members asks of the packages above it, wired by bootstrap onto the platform."""

from __future__ import annotations

from typing import Protocol

from qianbao.platform.db import Row


class RegistrationScreen(Protocol):
    """Run on each newly registered user, after the wallet is opened (risk: the AML watch list).
    It may freeze the user or open a case; it does not undo the registration."""

    def __call__(self, user: Row) -> None: ...
