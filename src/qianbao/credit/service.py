"""Transitional facade over the credit topic modules: DELETE IT once its last callers import
the topic modules directly (docs/decisions/0206-credit-modules.md).

It re-exports every public name of the former 1,930-line ``credit/service.py`` so that
``from qianbao.credit import service as huabei`` keeps working in ``payments/trades.py`` (being
rewritten onto the money-movement engine), ``scoring/service.py`` and the tests. New code
imports the module that owns the name:

- ``accounts``      the account row, its counters, ledger accounts, STATEMENT/PLAN machines
- ``pricing``       initial line, line rounding, interest tier, installment fee rates
- ``lines``         opening, re-pricing, reviews, increases, operator line/freeze, autodebit
- ``purchases``     Huabei as a funding source: charge, confirm, pay a merchant, refunds
- ``offers``        merchant installment offers (hb_fq_num / hb_fq_seller_percent)
- ``installments``  plans, bill installments, early settlement
- ``statements``    cutting bills, overdue interest, statuses
- ``repayments``    what is owed, payoff, allocation, repay
- ``reads``         summary, bills as shown, lists, repayment history
- ``model/``        the pure arithmetic (statement draft, allocation, aging); ``store`` the SQL

``score_provider`` lives in ``credit.lines`` (set it there; a copy here would not be read).
"""

from __future__ import annotations

from qianbao.credit.accounts import (
    CATEGORIES,
    PLAN,
    STATEMENT,
    UNPAID,
    available_fen,
    load_account,
    receivable,
    receivable_fen,
    unit_accounts,
    used_fen,
)
from qianbao.credit.config import config_for
from qianbao.credit.installments import install_bill, plan_schedule, settle_plan
from qianbao.credit.lines import (
    auto_review,
    open_credit_account,
    operator_freeze,
    operator_set_line,
    reprice,
    request_increase,
    review_decision,
    set_autodebit,
)
from qianbao.credit.model.allocation import COMPONENT_ORDER
from qianbao.credit.model.statement import owed_parts, statement_owed, statement_paid
from qianbao.credit.offers import (
    SELLER_PERCENTS,
    InstallmentOffer,
    check_offer,
    code_installments,
    declare_offer,
    discard_orphan_offer,
    offer_for,
    offer_subsidises,
)
from qianbao.credit.pricing import (
    AGE_FACTORS,
    KYC_BASE_FEN,
    InterestTier,
    initial_line,
    interest_tier,
    priced_rates,
    round_line,
    statement_rate,
)
from qianbao.credit.purchases import (
    HuabeiCharge,
    HuabeiRefund,
    charge_huabei,
    confirm_huabei,
    huabei_payment_command,
    pay_merchant_with_huabei,
    raise_if_overdue,
    refund_huabei_purchase,
    restore_huabei,
)
from qianbao.credit.reads import (
    get_purchase,
    get_statement,
    line_history,
    list_plans,
    list_purchases,
    list_statements,
    public_statement,
    repayment_history,
    repayments,
    summary,
)
from qianbao.credit.repayments import payoff_fen, repay, repay_in_ctx, total_owed
from qianbao.credit.statements import accrue_interest, bill_user
from qianbao.credit.store import PAID_COLUMN

__all__ = [
    "AGE_FACTORS",
    "CATEGORIES",
    "COMPONENT_ORDER",
    "KYC_BASE_FEN",
    "PAID_COLUMN",
    "PLAN",
    "SELLER_PERCENTS",
    "STATEMENT",
    "UNPAID",
    "HuabeiCharge",
    "HuabeiRefund",
    "InstallmentOffer",
    "InterestTier",
    "accrue_interest",
    "auto_review",
    "available_fen",
    "bill_user",
    "charge_huabei",
    "check_offer",
    "code_installments",
    "config_for",
    "confirm_huabei",
    "declare_offer",
    "discard_orphan_offer",
    "get_purchase",
    "get_statement",
    "huabei_payment_command",
    "initial_line",
    "install_bill",
    "interest_tier",
    "line_history",
    "list_plans",
    "list_purchases",
    "list_statements",
    "load_account",
    "offer_for",
    "offer_subsidises",
    "open_credit_account",
    "operator_freeze",
    "operator_set_line",
    "owed_parts",
    "pay_merchant_with_huabei",
    "payoff_fen",
    "plan_schedule",
    "priced_rates",
    "public_statement",
    "raise_if_overdue",
    "receivable",
    "receivable_fen",
    "refund_huabei_purchase",
    "repay",
    "repay_in_ctx",
    "repayment_history",
    "repayments",
    "reprice",
    "request_increase",
    "restore_huabei",
    "review_decision",
    "round_line",
    "set_autodebit",
    "settle_plan",
    "statement_owed",
    "statement_paid",
    "statement_rate",
    "summary",
    "total_owed",
    "unit_accounts",
    "used_fen",
]
