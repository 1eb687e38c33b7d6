"""Each user's notification preferences: language, channel (and e-mail address), quiet hours."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from qianbao.notices import model, store
from qianbao.notices.errors import PrefsInvalid
from qianbao.notices.service import prefs_of
from qianbao.notices.templates import CHANNELS, LANGUAGES
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,180}\.[A-Za-z]{2,24}$")
FIELDS = ("language", "channel", "email", "quiet_start", "quiet_end")


@dataclass(frozen=True)
class SetPrefs:
    """Command: change some of a user's preferences (``None``: keep; ``email=""``: remove)."""

    user_id: str
    language: str | None = None
    channel: str | None = None
    email: str | None = None
    quiet_start: str | None = None  # "HH:MM" local time
    quiet_end: str | None = None


def _minutes(text: str, name: str) -> int:
    match = _HHMM.match(text) if isinstance(text, str) else None
    if match is None:
        raise PrefsInvalid(f"{name} must be HH:MM (00:00-23:59), got {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def public_prefs(prefs: model.Prefs) -> dict[str, Any]:
    return {
        "language": prefs.language,
        "channel": prefs.channel,
        "email": prefs.email,
        "quiet_start": _hhmm(prefs.quiet_start_min),
        "quiet_end": _hhmm(prefs.quiet_end_min),
    }


def merged(current: model.Prefs, change: SetPrefs) -> model.Prefs:
    """The preferences after ``change`` (pure; every value checked)."""
    new = current
    if change.language is not None:
        if change.language not in LANGUAGES:
            raise PrefsInvalid(f"language must be one of {', '.join(LANGUAGES)}")
        new = replace(new, language=change.language)
    if change.email is not None:
        if change.email and not _EMAIL.match(change.email):
            raise PrefsInvalid(f"not an e-mail address: {change.email!r}")
        new = replace(new, email=change.email or None)
    if change.channel is not None:
        if change.channel not in CHANNELS:
            raise PrefsInvalid(f"channel must be one of {', '.join(CHANNELS)}")
        new = replace(new, channel=change.channel)
    if change.quiet_start is not None:
        new = replace(new, quiet_start_min=_minutes(change.quiet_start, "quiet_start"))
    if change.quiet_end is not None:
        new = replace(new, quiet_end_min=_minutes(change.quiet_end, "quiet_end"))
    if new.channel == "EMAIL" and not new.email:
        raise PrefsInvalid("the EMAIL channel needs an e-mail address")
    return new


def handle_set_prefs(ctx: WriteContext, change: SetPrefs) -> dict[str, Any]:
    new = merged(prefs_of(ctx.tx, change.user_id), change)
    store.save_prefs(ctx.tx, change.user_id, asdict(new), clock.now_ms())
    return public_prefs(new)


def set_prefs(p: Platform, user_id: str, **changes: Any) -> dict[str, Any]:
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise PrefsInvalid(f"unknown preferences {sorted(unknown)}; known: {', '.join(FIELDS)}")
    change = SetPrefs(user_id, **changes)
    result: dict[str, Any] = p.commands.submit(p.unit_of(user_id), change)
    return result


def get_prefs(p: Platform, user_id: str) -> dict[str, Any]:
    with p.db_for(user_id).read() as tx:
        return public_prefs(prefs_of(tx, user_id))
