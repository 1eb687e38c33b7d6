"""Large-payment alerts: the engine's ``PaymentObserver`` port (wired in bootstrap). A payment
of at least ``large_payment_fen`` (what the payer pays, after any coupon) sends the payer a
SECURITY notice in the paying command itself, so the alert exists if and only if the payment
committed, once per payment (the payment id is the dedupe key; a replay never reaches here)."""

from __future__ import annotations

from datetime import datetime

from qianbao.members import service as members
from qianbao.money_movement.commands import Pay
from qianbao.money_movement.quote import Quote
from qianbao.notices import service
from qianbao.platform.clock import TZ, clock
from qianbao.platform.writer import WriteContext


class LargePaymentAlerts:
    def __init__(self, threshold_fen: int) -> None:
        self.threshold_fen = threshold_fen

    def paid(self, ctx: WriteContext, pay: Pay, quote: Quote) -> None:
        if quote.pays_fen < self.threshold_fen:
            return
        payee = str(members.get_merchant_cached(ctx.platform, pay.merchant_id)["name"])
        moment = datetime.fromtimestamp(clock.now_ms() / 1000, tz=TZ)
        params = {
            "amount_fen": quote.pays_fen,
            "payee": payee[:60],
            "time": moment.strftime("%m-%d %H:%M"),
        }
        key = f"pay:{pay.payment_id}"
        service.send(ctx, pay.payer_id, "large_payment", params, dedupe_key=key)
