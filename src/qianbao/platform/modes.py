"""Sandbox and production modes: what a production start refuses.

The sandbox (``QIANBAO_ENV`` unset or ``sandbox``) is what ``make run`` starts: demo data, the
bank simulator, webhooks to private addresses. ``QIANBAO_ENV=production`` refuses to start on
any of those unless it is told explicitly, so a platform meant for real customers cannot come up
by accident with a key everyone knows (the default ``secret_key`` keys the hashes of ID numbers:
with it a full ID number is recovered from ``global.db``), with demo users whose passwords are in
the README, or with a bank that is only a simulator.
"""

from __future__ import annotations

from qianbao.platform.settings import DEFAULT_SECRET_KEY, Settings

SANDBOX, PRODUCTION = "sandbox", "production"
ENVS = (SANDBOX, PRODUCTION)
SECRET_KEY_MIN_CHARS = 32
BANK_SIMULATOR = "simulator"


class StartRefused(SystemExit):
    """The platform will not start in this configuration. A ``SystemExit``: the CLI, ``serve``
    and a unit process stop with the reasons and exit status 1, not with a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "qianbao refuses to start:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )


def start_problems(settings: Settings, *, demo_present: bool) -> list[str]:
    """Why ``settings`` may not start (empty: it may). Pure, so each rule is tested alone."""
    if settings.env not in ENVS:
        return [f"QIANBAO_ENV must be one of {', '.join(ENVS)}, not {settings.env!r}"]
    problems: list[str] = []
    if settings.bank_channel not in ("", BANK_SIMULATOR):
        problems.append(f"unknown bank_channel {settings.bank_channel!r} (known: simulator)")
    if not settings.production:
        return problems
    if settings.secret_key == DEFAULT_SECRET_KEY:
        problems.append("secret_key is the default: set QIANBAO_SECRET_KEY to a random secret")
    elif len(settings.secret_key) < SECRET_KEY_MIN_CHARS:
        problems.append(f"secret_key must be at least {SECRET_KEY_MIN_CHARS} characters")
    if demo_present:
        problems.append("demo data is loaded (demo.json or the demo merchant): start on fresh data")
    if settings.bank_channel != BANK_SIMULATOR:
        problems.append(
            "the only bank channel is the simulator: name it explicitly with"
            " QIANBAO_BANK_CHANNEL=simulator to run production against it"
        )
    return problems


def check_start(settings: Settings, *, demo_present: bool) -> None:
    problems = start_problems(settings, demo_present=demo_present)
    if problems:
        raise StartRefused(problems)


def refuse_demo(settings: Settings) -> None:
    """Demo data (known passwords and keys) is never loaded into a production platform."""
    if settings.env != SANDBOX:
        raise StartRefused(["demo data is only for the sandbox (QIANBAO_ENV is not sandbox)"])
