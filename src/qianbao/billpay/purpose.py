"""A bill payment as a purpose of the money-movement engine (registered in ``bootstrap.py``).

The order is created first (CREATED, its own command claims the request id); the engine's pay
moves it to PAID with the money booked to the biller (a merchant, by its contract); the
biller's answer moves it to SUCCEEDED, or a full refund through the engine moves it to
REFUNDED. A bill is paid at most once per unit: ``open`` refuses a second live payment of it.
"""

from __future__ import annotations

from qianbao.billpay import store
from qianbao.billpay.errors import BillAlreadyPaid, BillPaymentNotFound
from qianbao.money_movement.commands import Pay, Refund
from qianbao.money_movement.ports import Funded
from qianbao.money_movement.quote import Paid, Quote, RefundQuote
from qianbao.payments.service import record_activity
from qianbao.platform.db import Row
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

BILL = "BILL"  # the purpose's name in the engine's table
CREATED, PAID, SUCCEEDED, REFUNDED = "CREATED", "PAID", "SUCCEEDED", "REFUNDED"
CLOSED = "CLOSED"
BILL_PAYMENT = StateMachine(
    "bill payment",
    "bill_payments",
    {CREATED: {PAID, CLOSED}, PAID: {SUCCEEDED, REFUNDED}},
    initial={CREATED},
)


def load(ctx: WriteContext, payment_id: str) -> Row:
    row = store.payment(ctx.tx, payment_id)
    if row is None:
        raise BillPaymentNotFound("no such bill payment")
    return row


class BillPurpose:
    pay_voucher, refund_voucher, scope = "billpay", "billpay.refund", "billpay"

    def open(self, ctx: WriteContext, pay: Pay) -> Row | None:
        row = load(ctx, pay.payment_id)
        if row["status"] != CREATED:
            raise BillAlreadyPaid(f"this bill payment is {row['status']}")
        if store.live_payment_of_bill(ctx.tx, row["bill_id"]) is not None:
            raise BillAlreadyPaid("this bill has been paid already")
        return row

    def replay(self, ctx: WriteContext, first_id: str) -> Row:
        return load(ctx, first_id)

    def voucher_ref(self, pay: Pay, funded: Funded) -> str:
        return pay.payment_id

    def record(
        self, ctx: WriteContext, pay: Pay, quote: Quote, funded: Funded, opened: Row | None
    ) -> Row:
        BILL_PAYMENT.move(ctx.tx, pay.payment_id, CREATED, PAID, fee_fen=quote.fee_fen)
        record_activity(
            ctx,
            pay.merchant_id,
            pay.payment_id,
            "BILL_PAYMENT",
            pay.payment_id,
            pay.amount_fen,
            quote.fee_fen,
        )
        return load(ctx, pay.payment_id)

    def paid(self, ctx: WriteContext, refund: Refund) -> Paid:
        row = load(ctx, refund.paid_id)
        if row["merchant_id"] != refund.merchant_id:
            raise BillPaymentNotFound("no such bill payment")
        return Paid(
            paid_id=row["id"],
            payer_id=row["user_id"],
            merchant_id=row["merchant_id"],
            amount_fen=int(row["amount_fen"]),
            refunded_fen=int(row["refunded_fen"]),
            fee_fen=int(row["fee_fen"]),
            funding=str(row["funding"]),
            funding_ref=row["id"],
            card_id=row["card_id"],
        )

    def check_refundable(self, ctx: WriteContext, paid: Paid) -> None:
        row = load(ctx, paid.paid_id)
        if row["status"] != PAID:  # written off by the biller: the bill is paid, no refund
            raise BillAlreadyPaid(f"a {row['status']} bill payment cannot be refunded")

    def replay_refund(self, ctx: WriteContext, refund: Refund, first_id: str) -> Row:
        return load(ctx, refund.paid_id)

    def record_refund(
        self, ctx: WriteContext, refund: Refund, paid: Paid, quote: RefundQuote, funded: Funded
    ) -> Row:
        assert refund.amount_fen == paid.amount_fen, "a refused bill is refunded in full"
        BILL_PAYMENT.move(
            ctx.tx,
            paid.paid_id,
            PAID,
            REFUNDED,
            refunded_fen=refund.amount_fen,
            reason=refund.reason[:100],
        )
        record_activity(
            ctx,
            paid.merchant_id,
            refund.refund_id,
            "BILL_REFUND",
            paid.paid_id,
            -refund.amount_fen,
            -quote.fee_back_fen,
        )
        return load(ctx, paid.paid_id)
