"""The notification service's limits (``[extra.notices]`` in the settings; defaults here)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from qianbao.platform.errors import InvalidArgument


@dataclass(frozen=True)
class NoticeConfig:
    batch_max: int = 200  # notices one delivery pass takes per unit
    max_attempts: int = 8  # deliveries a provider refused for now; then FAILED
    retry_base_s: int = 30  # backoff: 30 s, 60 s, 120 s, ... capped at an hour
    sending_lease_s: int = 120  # a SENDING notice older than this was lost in a crash: retry
    code_ttl_s: int = 300  # a one-time code is valid five minutes
    code_max_attempts: int = 5  # wrong guesses before the code is locked
    codes_per_hour: int = 5  # codes one user may ask for one purpose within an hour
    large_payment_fen: int = 500_000  # payments of 5,000 CNY and more alert the payer
    gateway_failure_rate: float = 0.0  # the simulator's share of "provider busy" answers
    gateway_seed: int | None = None


def load(raw: dict[str, Any] | None) -> NoticeConfig:
    cfg = NoticeConfig()
    if not raw:
        return cfg
    known = {f.name for f in fields(NoticeConfig)}
    unknown = set(raw) - known
    if unknown:
        raise InvalidArgument(f"unknown notices settings {sorted(unknown)}")
    cfg = replace(cfg, **raw)
    ints = [v for k, v in vars(cfg).items() if k not in ("gateway_failure_rate", "gateway_seed")]
    if any(type(v) is not int or v <= 0 for v in ints):
        raise InvalidArgument("notices settings must be positive whole numbers")
    if not 0.0 <= cfg.gateway_failure_rate < 1.0:
        raise InvalidArgument("gateway_failure_rate must be in [0, 1)")
    return cfg
