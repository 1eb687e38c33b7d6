"""Every Huabei rate, day and limit is configuration (SPEC §3). Defaults are the products'
public rules; override them with ``Settings.extra["credit"]`` (a mapping of field -> value).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from qianbao.platform.runtime import Platform


def _rates(**kw: str) -> dict[int, Decimal]:
    return {int(k.removeprefix("p")): Decimal(v) for k, v in kw.items()}


@dataclass(frozen=True)
class CreditConfig:
    # Lines (CNY in fen).
    line_min_fen: int = 50_000  # 500 CNY
    line_max_fen: int = 5_000_000  # 50,000 CNY (medical use may reach the full line)
    everyday_cap_fen: int = 3_000_000  # everyday shopping may use at most 30,000
    line_round_fen: int = 10_000  # lines are whole hundreds of CNY
    adult_age_years: int = 18
    # Statements.
    bill_day: int = 1
    due_day: int = 10
    due_days_offered: tuple[int, ...] = (9, 10)
    minimum_rate: Decimal = Decimal("0.10")
    # Interest and overdue.
    daily_interest_rate: Decimal = Decimal("0.0005")
    write_off_days: int = 180
    reminder_days: tuple[int, ...] = (1, 3, 7, 15, 30, 60, 90)  # days past due; 1 a day max
    reminder_hours: tuple[int, int] = (8, 21)  # lawful contact window, local time
    # Installments: total fee rate by number of periods.
    bill_installment_rates: dict[int, Decimal] = field(
        default_factory=lambda: _rates(p3="0.025", p6="0.045", p9="0.065", p12="0.088")
    )
    purchase_installment_rates: dict[int, Decimal] = field(
        default_factory=lambda: _rates(p3="0.023", p6="0.045", p12="0.075")
    )
    installment_min_fen: int = 10_000  # a plan splits at least 100 CNY
    early_settlement_fee_waived: bool = True  # remaining fees of an early-settled plan
    # Provisions: rate per bucket (current, 1-30, 31-60, 61-90, 90+ days past due).
    provision_rates: tuple[Decimal, ...] = (
        Decimal("0.01"),
        Decimal("0.10"),
        Decimal("0.30"),
        Decimal("0.50"),
        Decimal("1.00"),
    )
    bucket_bounds_days: tuple[int, ...] = (0, 30, 60, 90)  # upper bounds of the first 4 buckets
    # Line reviews.
    review_every_months: int = 3
    review_min_age_days: int = 90
    review_min_on_time_statements: int = 3
    review_min_utilisation: Decimal = Decimal("0.30")
    increase_rate: Decimal = Decimal("0.20")
    request_max_ratio: Decimal = Decimal("1.5")  # a requested line at most 1.5× the current

    @property
    def bucket_names(self) -> tuple[str, ...]:
        return ("current", "1-30", "31-60", "61-90", "90+")


def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, Decimal):
        return Decimal(str(value))
    if isinstance(default, dict):
        return {int(k): Decimal(str(v)) for k, v in value.items()}
    if isinstance(default, tuple):
        return tuple(type(default[0])(str(v)) if default else v for v in value)
    if isinstance(default, bool):
        return bool(value)
    if isinstance(default, int):
        return int(value)
    return value


def load(overrides: dict[str, Any] | None = None) -> CreditConfig:
    base = CreditConfig()
    if not overrides:
        return base
    known = {f.name for f in fields(CreditConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown credit settings: {sorted(unknown)}")
    return replace(base, **{k: _coerce(v, getattr(base, k)) for k, v in overrides.items()})


_cache: dict[int, CreditConfig] = {}


def config_for(p: Platform) -> CreditConfig:
    key = id(p.settings)
    cfg = _cache.get(key)
    if cfg is None:
        cfg = _cache[key] = load(p.settings.extra.get("credit"))
    return cfg
