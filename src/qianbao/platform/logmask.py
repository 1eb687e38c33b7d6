"""Log records never carry a card number, an ID number or a private key.

``MaskingFilter`` rewrites a record's message (after ``%`` formatting, so arguments are covered):
digit runs of 13–19 from a card scheme's range that pass the Luhn check (card numbers, also with
spaces or dashes) keep only their last four; 18-character PRC ID numbers keep only their last
four; PEM private key blocks are dropped whole. ``install()`` applies it to every record of every
logger, whatever handlers are configured later (a record factory), and also adds it to the root
logger's handlers."""

from __future__ import annotations

import logging
import re
from typing import Any

# Card numbers start 2–6 (scheme BINs); the platform's own 18-digit ids start with 1 (a
# microsecond clock), so they are left readable.
CARD = re.compile(r"(?<![0-9])[2-6](?:[ -]?[0-9]){11,17}(?:[ -]?[0-9])(?![0-9])")
# region (6) + birth date (19xx/20xx, month, day) + sequence (3) + check digit or X
ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not _luhn(digits):
        return match.group(0)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask(text: str) -> str:
    if not any(ch.isdigit() for ch in text) and "PRIVATE KEY" not in text:
        return text
    text = PRIVATE_KEY.sub("[private key removed]", text)
    text = ID_NUMBER.sub(lambda m: "*" * 14 + m.group(0)[-4:], text)
    return CARD.sub(_card, text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


_FILTER = MaskingFilter()
_installed = False


def install() -> None:
    """Idempotent: one record factory for the process."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _FILTER.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_FILTER)
    _installed = True
