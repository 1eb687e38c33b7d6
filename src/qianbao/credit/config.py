"""Every Huabei rate, day and limit is configuration (SPEC §3). Defaults are the products'
public rules; override them with ``Settings.extra["credit"]`` (a mapping of field -> value).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from qianbao.platform.runtime import Platform

# No daily interest rate above this is accepted from configuration (0.1% a day, 36.5% a year):
# a sanity bound against typos such as "0.05" for 0.05%, not a legal judgement.
DAILY_INTEREST_RATE_LIMIT = Decimal("0.001")


def _rates(**kw: str) -> dict[int, Decimal]:
    return {int(k.removeprefix("p")): Decimal(v) for k, v in kw.items()}


def _band_interest_rates() -> dict[str, Decimal]:
    """The daily overdue interest rate of each score band (scoring.bands, ``bands-v1``)."""
    from qianbao.scoring.bands import BANDS

    return {b.name: b.daily_interest_rate for b in BANDS}


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
    daily_interest_rate: Decimal = Decimal("0.0005")  # users without a score; the ceiling
    # Risk-based pricing: the daily rate of each score band (better bands, lower rates). A band
    # rate never exceeds daily_interest_rate; overrides name bands, the rest keep the default.
    band_daily_interest_rates: dict[str, Decimal] = field(default_factory=_band_interest_rates)
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


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"{value!r} is not a number")
    try:
        out = Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"{value!r} is not a number") from None
    if not out.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return out


def _coerce(value: Any, default: Any, name: str = "") -> Any:
    if isinstance(default, Decimal):
        return _decimal(value)
    if name == "band_daily_interest_rates":
        if not isinstance(value, dict):
            raise ValueError("band_daily_interest_rates must map band names to rates")
        unknown = set(value) - set(default)
        if unknown:
            raise ValueError(f"unknown score bands in band_daily_interest_rates: {sorted(unknown)}")
        return {**default, **{str(k): _decimal(v) for k, v in value.items()}}
    if isinstance(default, dict):
        return {int(k): _decimal(v) for k, v in value.items()}
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
    cfg = replace(base, **{k: _coerce(v, getattr(base, k), k) for k, v in overrides.items()})
    _check_interest(cfg, overrides.get("band_daily_interest_rates") or {})
    return cfg


def _check_interest(cfg: CreditConfig, explicit_bands: dict[str, Any]) -> None:
    """Rates are refused at load, never at the first bill: each within 0..the limit, an explicit
    band rate at most the default rate (the ceiling), better bands never dearer."""
    if not 0 <= cfg.daily_interest_rate <= DAILY_INTEREST_RATE_LIMIT:
        raise ValueError(
            f"daily_interest_rate must be within 0–{DAILY_INTEREST_RATE_LIMIT}"
            f" (got {cfg.daily_interest_rate})"
        )
    for name, rate in cfg.band_daily_interest_rates.items():
        if rate < 0 or (name in explicit_bands and rate > cfg.daily_interest_rate):
            raise ValueError(
                f"band {name}: daily interest rate must be within 0–{cfg.daily_interest_rate}"
                f" (the default rate is the ceiling; got {rate})"
            )
    effective = [band_interest_rate(cfg, name) for name in cfg.band_daily_interest_rates]
    if any(better > worse for worse, better in zip(effective, effective[1:], strict=False)):
        raise ValueError("band_daily_interest_rates: a better band may not pay a higher rate")


def band_interest_rate(cfg: CreditConfig, band: str) -> Decimal:
    """The daily overdue interest rate of a score band, capped at the default rate."""
    if band not in cfg.band_daily_interest_rates:
        raise ValueError(f"unknown score band {band!r}")
    return min(cfg.band_daily_interest_rates[band], cfg.daily_interest_rate)


def config_for(p: Platform) -> CreditConfig:
    """The platform's credit configuration, loaded once and kept on the platform (it was a
    module cache keyed by ``id(settings)``, which a later platform's settings could reuse)."""
    cfg: CreditConfig | None = p.credit_config
    if cfg is None:
        cfg = p.credit_config = load(p.settings.extra.get("credit"))
    return cfg
