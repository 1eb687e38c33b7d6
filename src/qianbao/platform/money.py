"""Money is an ``int`` of fen. This module is the one place that rounds and splits."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from qianbao.platform.errors import InvalidArgument

FEN_PER_YUAN = 100
MAX_YUAN = Decimal(10) ** 12


def round_fen(value: Decimal) -> int:
    """Half-up rounding to the fen: every fee, interest and split goes through here."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def apply_rate(amount_fen: int, rate: Decimal) -> int:
    return round_fen(Decimal(amount_fen) * rate)


def split_fen(total_fen: int, parts: int) -> list[int]:
    """Split into ``parts`` near-equal amounts; the remainder goes to the first parts."""
    if parts <= 0:
        raise ValueError("parts must be positive")
    base, remainder = divmod(total_fen, parts)
    return [base + (1 if i < remainder else 0) for i in range(parts)]


def proportional_fen(whole_fen: int, done_fen: int, step_fen: int, total_fen: int) -> int:
    """The share of ``whole_fen`` that ``step_fen`` of ``total_fen`` carries, given ``done_fen``.

    Cumulative rounding: after all steps the shares sum exactly to ``whole_fen``.
    """
    before = round_fen(Decimal(whole_fen) * Decimal(done_fen) / Decimal(total_fen))
    after = round_fen(Decimal(whole_fen) * Decimal(done_fen + step_fen) / Decimal(total_fen))
    return after - before


# ASCII digits only (``re.ASCII``: no full-width or Arabic-Indic digits), no exponent, no ``_``
# separators, no "+"; decimals past the fen are allowed only when they are zeros ("5.000"). A
# leading "-" parses, so a negative amount is refused by the amount check with its own code.
_YUAN = re.compile(
    r"(?P<sign>-?)(?P<whole>[0-9]+)(?:\.(?P<fen>[0-9]{1,2})(?P<zeros>0*))?", re.ASCII
)
MAX_YUAN_CHARS = 32


def yuan_to_fen(text: str) -> int:
    """Parse "12.34" (ASCII ``digits[.dd]``, trailing zeros allowed) into fen; anything else is
    an InvalidArgument."""
    match = _YUAN.fullmatch(text) if len(text) <= MAX_YUAN_CHARS else None
    if match is None:
        raise InvalidArgument(
            f"amount {text[:MAX_YUAN_CHARS]!r} must be ASCII digits with at most two decimals,"
            ' like "12.34"'
        )
    whole, fen = match["whole"], (match["fen"] or "").ljust(2, "0")
    if int(whole) >= MAX_YUAN:
        raise InvalidArgument(f"amount {text!r} is too large", code="AMOUNT_TOO_LARGE")
    fen_total = int(whole) * FEN_PER_YUAN + int(fen)
    return -fen_total if match["sign"] else fen_total


def fen_to_yuan(amount_fen: int) -> str:
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"
