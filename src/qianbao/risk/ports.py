"""What risk needs from other packages, wired in ``bootstrap.py``."""

from __future__ import annotations

from typing import Protocol

from qianbao.platform.runtime import Platform


class OneTimeCodes(Protocol):
    """A six-digit code sent to the user's phone (``notices``): the step-up's second method."""

    def issue(self, p: Platform, user_id: str, purpose: str) -> str:
        """Send a code; returns its id."""
        ...

    def check(self, p: Platform, user_id: str, code_id: str, code: str) -> bool:
        """Is it right (and still valid)? A right answer uses it up."""
        ...
