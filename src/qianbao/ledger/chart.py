"""The chart of accounts (科目表).

A posting's ``amount_fen`` is signed: credit positive, debit negative, so every voucher and the
whole ledger sum to zero. An account's balance is ``side × Σ postings``: +1 for credit-normal
subjects (liabilities, income), −1 for debit-normal ones (assets, expenses), so balances read
as people expect (a user's 100 CNY is +10000 on a liability account).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    code: str
    name: str
    kind: str  # asset | liability | income | expense
    no_negative: bool = False  # the database refuses to take the balance below zero
    hot: bool = False  # credited by many payments: credits are group-applied per batch

    @property
    def side(self) -> int:
        return 1 if self.kind in ("liability", "income", "equity") else -1


SUBJECTS: dict[str, Subject] = {
    s.code: s
    for s in [
        Subject("user_balance", "用户余额 user wallet balances", "liability", no_negative=True),
        Subject(
            "merchant_balance",
            "商户余额 merchant settlement",
            "liability",
            no_negative=True,
            hot=True,
        ),
        Subject(
            "merchant_unsettled",
            "待结算 merchant T+1 money awaiting the day-end settlement",
            "liability",
            no_negative=True,
        ),
        Subject("withdrawal_clearing", "提现在途 withdrawals sent to banks", "liability"),
        Subject("escrow", "担保交易 secured-trade escrow", "liability", no_negative=True),
        Subject(
            "red_packet_holding",
            "红包待领 red packets not yet claimed",
            "liability",
            no_negative=True,
        ),
        Subject("in_transit", "单元间在途 money between units", "liability", hot=True),
        Subject("bucket_move", "迁移往来 balances moved with a route bucket", "liability"),
        Subject("bank_reserve", "备付金 reserves at bank channels", "asset", hot=True),
        Subject("suspense", "待处理款项 bank movements not yet identified", "liability"),
        Subject("fee_income", "手续费收入 fee income", "income", hot=True),
        Subject("interest_income", "利息收入 interest income", "income", hot=True),
        Subject("installment_fee_income", "分期手续费收入 installment fees", "income", hot=True),
        Subject("credit_receivable", "应收账款 Huabei receivables", "asset"),
        Subject("provision", "贷款损失准备 loan-loss provision", "liability"),
        Subject("provision_expense", "信用减值损失 provision expense", "expense"),
        Subject("compensation_expense", "赔付支出 buyer compensation", "expense"),
        Subject("adjustment_expense", "调账 approved manual balance adjustments", "expense"),
        Subject("marketing_expense", "营销费用 marketing spend", "expense"),
        Subject("credit_write_off", "核销损失 Huabei write-off beyond the provision", "expense"),
        # Yu'e Bao (余额宝): a share is 1 fen (NAV 1.00 CNY per 100 shares); see ADR 0700
        Subject(
            "fund_shares", "余额宝份额 users' confirmed fund shares", "liability", no_negative=True
        ),
        Subject(
            "fund_pending", "申购待确认 subscriptions awaiting confirmation", "liability", True
        ),
        Subject("fund_redeeming", "赎回待确认 normal redemptions awaiting T+1", "liability", True),
        Subject("fund_custody", "基金公司持有份额 shares the fund company holds for us", "asset"),
        Subject("fund_clearing", "基金清算往来 net cash owed to the fund company", "liability"),
        Subject(
            "fund_retained",
            "收益尾差 income the fund paid beyond holders' rounded shares",
            "liability",
        ),
    ]
}


def subject_of(account_id: str) -> Subject:
    return SUBJECTS[account_id.split(":", 1)[0]]


def account_id(subject: str, owner: str) -> str:
    """Account ids say what they are: ``user_balance:<user id>``, ``fee_income:u0``."""
    if subject not in SUBJECTS:
        raise KeyError(subject)
    return f"{subject}:{owner}"


def unit_account(subject: str, unit: int, qualifier: str = "") -> str:
    """A platform-owned account of ``unit`` (``bank_reserve:SIMBANK@u0``)."""
    return account_id(subject, f"{qualifier}@u{unit}" if qualifier else f"u{unit}")


def in_transit(unit: int, peer: int) -> str:
    return account_id("in_transit", f"u{unit}>u{peer}")


def user_account(user_id: str) -> str:
    """A user's wallet balance."""
    return account_id("user_balance", user_id)
