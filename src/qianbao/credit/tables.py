"""Huabei tables (unit data: every row lives in the unit of the user who owes it)."""

from __future__ import annotations

import sqlalchemy as sa

import qianbao.payments.codes_tables  # noqa: F401  (payment-code funding loads with these)
from qianbao.platform.schema import Millis, Money, ident, unit_metadata


def _timestamps() -> list[sa.Column[int]]:
    return [
        sa.Column("created_at_ms", Millis, nullable=False),
        sa.Column("updated_at_ms", Millis, nullable=False),
    ]


# One credit account per user. The counters are the line's uses; their sum plus unpaid charges
# always equals the user's credit_receivable balance in the ledger (tests prove it).
credit_accounts = sa.Table(
    "credit_accounts",
    unit_metadata,
    ident("user_id", primary_key=True),
    sa.Column("id_number_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("phone", sa.String(11), nullable=False, unique=True),
    sa.Column("status", sa.String(12), nullable=False),  # ACTIVE | FROZEN | CLOSED
    sa.Column("line_fen", Money, nullable=False),
    sa.Column("unbilled_fen", Money, nullable=False, server_default="0"),
    sa.Column("billed_fen", Money, nullable=False, server_default="0"),
    sa.Column("installment_fen", Money, nullable=False, server_default="0"),
    sa.Column("charges_fen", Money, nullable=False, server_default="0"),  # unpaid fees, interest
    sa.Column("prepaid_fen", Money, nullable=False, server_default="0"),
    sa.Column("written_off_fen", Money, nullable=False, server_default="0"),
    sa.Column("overdue_days", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_overdue_days", sa.Integer, nullable=False, server_default="0"),
    sa.Column("due_day", sa.Integer, nullable=False),
    sa.Column("autodebit", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("frozen_reason", sa.String(200), nullable=False, server_default=""),
    sa.Column("last_review_date", sa.String(10), nullable=False),
    # Overdue interest tier fixed at opening and at each re-scoring (docs/decisions/0205):
    # the daily rate, the score band that priced it ("" = no score) and what priced it.
    sa.Column("interest_rate", sa.String(12), nullable=False, server_default=""),
    sa.Column("interest_band", sa.String(20), nullable=False, server_default=""),
    sa.Column("interest_priced_by", sa.String(80), nullable=False, server_default=""),
    *_timestamps(),
    sa.CheckConstraint(
        "unbilled_fen >= 0 AND billed_fen >= 0 AND installment_fen >= 0"
        " AND charges_fen >= 0 AND prepaid_fen >= 0",
        name="ck_credit_accounts_nonneg",
    ),
)

credit_purchases = sa.Table(
    "credit_purchases",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    ident("merchant_id", nullable=False),
    ident("ref", nullable=False),  # the payment, trade or cashier order it funded
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("merchant_fee_fen", Money, nullable=False),
    sa.Column("refunded_fen", Money, nullable=False, server_default="0"),
    sa.Column("category", sa.String(12), nullable=False),  # everyday | medical
    sa.Column("bill_date", sa.String(10)),  # NULL until a secured trade is confirmed
    ident("statement_id"),
    ident("plan_id"),
    sa.Column("status", sa.String(20), nullable=False),
    *_timestamps(),
    sa.Index("ix_credit_purchases_bill", "user_id", "bill_date"),
    sa.Index("ix_credit_purchases_ref", "ref"),
)

credit_statements = sa.Table(
    "credit_statements",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("bill_date", sa.String(10), nullable=False),
    sa.Column("due_date", sa.String(10), nullable=False),
    sa.Column("deadline", sa.String(10), nullable=False),  # due date, or next one if revolving
    # OPEN | PAID | REVOLVING | OVERDUE | WRITTEN_OFF
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("purchase_fen", Money, nullable=False),
    sa.Column("installed_fen", Money, nullable=False, server_default="0"),
    sa.Column("inst_principal_fen", Money, nullable=False, server_default="0"),
    sa.Column("inst_fee_fen", Money, nullable=False, server_default="0"),
    sa.Column("interest_fen", Money, nullable=False, server_default="0"),
    sa.Column("purchase_paid_fen", Money, nullable=False, server_default="0"),
    sa.Column("inst_principal_paid_fen", Money, nullable=False, server_default="0"),
    sa.Column("inst_fee_paid_fen", Money, nullable=False, server_default="0"),
    sa.Column("interest_paid_fen", Money, nullable=False, server_default="0"),
    sa.Column("minimum_fen", Money, nullable=False),
    sa.Column("interest_through", sa.String(10), nullable=False),
    sa.Column("overdue_since", sa.String(10)),
    sa.Column("paid_on", sa.String(10)),
    # The account's interest tier when the bill was cut ("" on bills cut before 0205: default).
    sa.Column("interest_rate", sa.String(12), nullable=False, server_default=""),
    sa.Column("interest_band", sa.String(20), nullable=False, server_default=""),
    sa.Column("interest_priced_by", sa.String(80), nullable=False, server_default=""),
    *_timestamps(),
    sa.UniqueConstraint("user_id", "bill_date", name="uq_credit_statements_user_bill"),
    sa.Index("ix_credit_statements_status", "status", "deadline"),
)

credit_statement_items = sa.Table(
    "credit_statement_items",
    unit_metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    ident("statement_id", nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # PURCHASE | INSTALLMENT | REFUND
    ident("ref", nullable=False),
    sa.Column("principal_fen", Money, nullable=False),
    sa.Column("fee_fen", Money, nullable=False),
    sa.Column("memo", sa.String(100), nullable=False, server_default=""),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Index("ix_credit_items_statement", "statement_id"),
)

credit_plans = sa.Table(
    "credit_plans",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # BILL | PURCHASE
    ident("source_id", nullable=False),  # the statement or purchase split
    sa.Column("principal_fen", Money, nullable=False),
    sa.Column("fee_fen", Money, nullable=False),
    sa.Column("fee_rate", sa.String(12), nullable=False),
    sa.Column("periods", sa.Integer, nullable=False),
    sa.Column("subsidised", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # ACTIVE | COMPLETED | SETTLED
    *_timestamps(),
    sa.Index("ix_credit_plans_user", "user_id", "status"),
)

credit_plan_periods = sa.Table(
    "credit_plan_periods",
    unit_metadata,
    ident("plan_id", primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("bill_date", sa.String(10), nullable=False),
    sa.Column("principal_fen", Money, nullable=False),
    sa.Column("fee_fen", Money, nullable=False),
    # PENDING | BILLED | SETTLED (early) | WAIVED (fee only) | REFUNDED
    sa.Column("status", sa.String(12), nullable=False),
    ident("statement_id"),
    sa.Index("ix_credit_periods_bill", "user_id", "bill_date", "status"),
)

credit_repayments = sa.Table(
    "credit_repayments",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("amount_fen", Money, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("allocation", sa.Text, nullable=False),  # JSON: what each fen paid
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Index("ix_credit_repayments_user", "user_id", "created_at_ms"),
)

credit_line_changes = sa.Table(
    "credit_line_changes",
    unit_metadata,
    ident("id", primary_key=True),
    ident("user_id", nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("old_line_fen", Money, nullable=False),
    sa.Column("new_line_fen", Money, nullable=False),
    sa.Column("decision", sa.String(10), nullable=False),  # APPROVED | REJECTED
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("actor", sa.String(60), nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
    sa.Index("ix_credit_line_changes_user", "user_id", "created_at_ms"),
)

credit_reminders = sa.Table(
    "credit_reminders",
    unit_metadata,
    ident("user_id", primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("days_past_due", sa.Integer, nullable=False),
    sa.Column("overdue_fen", Money, nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("scheduled_at_ms", Millis, nullable=False),
)

# One row per unit per business day: the portfolio as the day ended (the provision report).
credit_day_end = sa.Table(
    "credit_day_end",
    unit_metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("accounts", sa.Integer, nullable=False),
    sa.Column("overdue_accounts", sa.Integer, nullable=False),
    sa.Column("receivables_fen", Money, nullable=False),
    sa.Column("overdue_fen", Money, nullable=False),
    sa.Column("bucket_receivables", sa.Text, nullable=False),  # JSON list by bucket
    sa.Column("provision_fen", Money, nullable=False),
    sa.Column("written_off_fen", Money, nullable=False),
    sa.Column("interest_income_fen", Money, nullable=False),
    sa.Column("installment_fee_income_fen", Money, nullable=False),
    sa.Column("created_at_ms", Millis, nullable=False),
)

# A merchant's installment offer on a trade (花呗分期, ``hb_fq_num`` / ``hb_fq_seller_percent``):
# kept in the trade's *order unit*, keyed like the order by (merchant, out_trade_no), declared
# once with the trade and never changed. seller_percent 100: the merchant pays the plan's fee.
credit_installment_offers = sa.Table(
    "credit_installment_offers",
    unit_metadata,
    ident("merchant_id", primary_key=True),
    sa.Column("out_trade_no", sa.String(64), primary_key=True),
    sa.Column("periods", sa.Integer, nullable=False),
    sa.Column("seller_percent", sa.Integer, nullable=False),  # 0 | 100
    sa.Column("created_at_ms", Millis, nullable=False),
)
