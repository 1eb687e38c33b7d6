"""Payment codes (付款码) and QR images.

A payment code is 18 digits: ``28`` + 14 random digits + the buyer's 2-digit route bucket, so a
merchant till's code finds the buyer's unit without a lookup. It is valid for 60 seconds, used
at most once (a guarded update inside the paying command) and bound to the buyer who asked for it.

Funding: the buyer chooses what codes draw on, the balance (default) or Huabei
(``set_code_funding``, ``PUT /api/v1/me/payment-code/funding``); each issued code fixes the
choice then in force (or one given for that code), and the till's payment uses it.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass

import qrcode
import qrcode.image.svg

from qianbao.payments.errors import (
    CodeFundingInvalid,
    PaymentCodeInvalid,
    PaymentCodeUnknown,
)
from qianbao.platform.clock import clock
from qianbao.platform.db import Tx
from qianbao.platform.ids import bucket_of
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

CODE_PREFIX = "28"
CODE_DIGITS = 18
CODE_TTL_MS = 60_000
_RANDOM_DIGITS = CODE_DIGITS - len(CODE_PREFIX) - 2
BALANCE, HUABEI = "BALANCE", "HUABEI"
CODE_FUNDINGS = (BALANCE, HUABEI)


def check_funding(funding: str) -> str:
    if funding not in CODE_FUNDINGS:
        raise CodeFundingInvalid(f"payment code funding must be one of {CODE_FUNDINGS}")
    return funding


def _require_huabei(p: Platform, user_id: str) -> None:
    """Choosing Huabei needs an open Huabei account (whether it can pay is checked at payment)."""
    p.money.funding[HUABEI].check_usable(p, user_id)


def _preference(tx: Tx, user_id: str) -> str:
    value = tx.scalar(
        "SELECT funding FROM payment_code_settings WHERE user_id = :u", {"u": user_id}
    )
    return str(value) if value else BALANCE


def code_funding_setting(p: Platform, user_id: str) -> dict[str, object]:
    with p.db_for(user_id).read() as tx:
        return {"funding": _preference(tx, user_id)}


def set_code_funding(p: Platform, user_id: str, funding: str) -> dict[str, object]:
    """The buyer's standing choice for new payment codes (setting it again changes nothing)."""
    check_funding(funding)
    if funding == HUABEI:
        _require_huabei(p, user_id)
    p.writer_for(user_id).submit(SetCodeFunding(user_id, funding, clock.now_ms()))
    return {"funding": funding}


@dataclass(frozen=True, slots=True)
class SetCodeFunding:
    """The buyer's standing funding choice for new codes. A command as data."""

    user_id: str
    funding: str
    now_ms: int

    def __call__(self, ctx: WriteContext) -> None:
        ctx.tx.execute(
            "INSERT INTO payment_code_settings (user_id, funding, updated_at_ms) VALUES"
            " (:u, :f, :now) ON CONFLICT (user_id) DO UPDATE SET funding = :f,"
            " updated_at_ms = :now",
            {"u": self.user_id, "f": self.funding, "now": self.now_ms},
        )


@dataclass(frozen=True, slots=True)
class IssuePaymentCode:
    """Record a fresh one-time code in the buyer's unit. A command as data (its ``__call__`` is
    its handler), so it can be sent to the unit's process."""

    user_id: str
    code: str
    funding: str | None
    now_ms: int
    expires_ms: int

    def __call__(self, ctx: WriteContext) -> str:
        tx, user_id, code = ctx.tx, self.user_id, self.code
        now_ms, expires_ms = self.now_ms, self.expires_ms
        for table in ("payment_codes", "payment_code_funding"):  # swept as new ones are asked
            tx.execute(
                f"DELETE FROM {table} WHERE user_id = :u AND expires_at_ms < :old",
                {"u": user_id, "old": now_ms - CODE_TTL_MS},
            )
        tx.execute(
            "INSERT INTO payment_codes (code, user_id, expires_at_ms, trade_id, created_at_ms)"
            " VALUES (:c, :u, :exp, NULL, :now)",
            {"c": code, "u": user_id, "exp": expires_ms, "now": now_ms},
        )
        chosen = self.funding or _preference(tx, user_id)
        if chosen != BALANCE:
            tx.execute(
                "INSERT INTO payment_code_funding (code, user_id, funding, expires_at_ms)"
                " VALUES (:c, :u, :f, :exp)",
                {"c": code, "u": user_id, "f": chosen, "exp": expires_ms},
            )
        return chosen


def issue_payment_code(p: Platform, user_id: str, funding: str | None = None) -> dict[str, object]:
    """A fresh one-time code for ``user_id`` (shown on the buyer's phone as a barcode/QR),
    drawing on ``funding`` or, by default, the buyer's standing choice."""
    if funding is not None:
        check_funding(funding)
        if funding == HUABEI:
            _require_huabei(p, user_id)
    code = f"{CODE_PREFIX}{secrets.randbelow(10**_RANDOM_DIGITS):0{_RANDOM_DIGITS}d}"
    code += f"{bucket_of(user_id):02d}"
    now_ms = clock.now_ms()
    expires_ms = now_ms + CODE_TTL_MS
    command = IssuePaymentCode(user_id, code, funding, now_ms, expires_ms)
    chosen = p.writer_for(user_id).submit(command)
    return {"code": code, "expires_at_ms": expires_ms, "funding": chosen}


def funding_of_code(p: Platform, code: str) -> str:
    """What a (valid) code draws on: the funding fixed when it was issued, else the balance."""
    check_code_format(code)
    with p.db_for(code).read() as tx:
        value = tx.scalar("SELECT funding FROM payment_code_funding WHERE code = :c", {"c": code})
    return str(value) if value else BALANCE


def check_code_format(code: str) -> str:
    if len(code) != CODE_DIGITS or not code.isdigit() or not code.startswith(CODE_PREFIX):
        raise PaymentCodeInvalid("payment code must be 18 digits starting with 28")
    return code


def buyer_of_code(p: Platform, code: str) -> str:
    """The buyer behind a valid, unused, unexpired code (read only; the pay command re-checks)."""
    check_code_format(code)
    with p.db_for(code).read() as tx:
        row = tx.one(
            "SELECT user_id, expires_at_ms, trade_id FROM payment_codes WHERE code = :c",
            {"c": code},
        )
    if row is None or row["trade_id"] is not None or row["expires_at_ms"] <= clock.now_ms():
        raise PaymentCodeUnknown("payment code unknown, used or expired")
    return str(row["user_id"])


def use_code(ctx: WriteContext, code: str, buyer_id: str, trade_id: str) -> None:
    """Spend the code on ``trade_id`` in the paying command (rolled back with it on failure)."""
    if not ctx.tx.execute(
        "UPDATE payment_codes SET trade_id = :t WHERE code = :c AND user_id = :u"
        " AND trade_id IS NULL AND expires_at_ms > :now",
        {"t": trade_id, "c": code, "u": buyer_id, "now": clock.now_ms()},
    ):
        raise PaymentCodeUnknown("payment code unknown, used or expired")


# --- QR images -----------------------------------------------------------------------------------
def qr_png(data: str, box_size: int = 8) -> bytes:
    img = qrcode.make(data, box_size=box_size, border=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def qr_svg(data: str) -> str:
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue().decode()


def public_base_url(p: Platform) -> str:
    return str(
        p.settings.extra.get("public_base_url", f"http://{p.settings.host}:{p.settings.port}")
    )


def order_qr_content(p: Platform, order_id: str) -> str:
    """The dynamic QR of a precreated trade: the cashier link of its order."""
    return f"{public_base_url(p)}/cashier/o/{order_id}"


def merchant_qr_content(p: Platform, merchant_id: str) -> str:
    """A merchant's static QR: the buyer scans it and types the amount."""
    return f"{public_base_url(p)}/cashier/m/{merchant_id}"
