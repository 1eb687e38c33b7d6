"""Every unit table, classified by how its rows follow a route bucket (ADR 0935).

A move copies the rows of the moved bucket and retires them on the source, so each unit table
must say which rows are the bucket's. ``tests/cluster/test_bucket_move.py`` fails when a table
exists in the unit schema and is not in ``TABLES``: a new table cannot be forgotten.

Rules:
- ``Follows(column)``: the row is the bucket's when ``column`` (an id ending in its bucket: the
  row's own id, its owner's id) ends in the bucket's two digits. Records a user starts take the
  user's bucket (ADR 0001), so they live where the user lives; trade orders take their order
  bucket (ADR 0301).
- ``BOOKS``: the unit's ledger (vouchers, postings, day closings). A voucher touches accounts of
  several owners (a payment books the payer's wallet and the merchant's sub-account of the
  unit), so postings never move: the moved accounts' balances leave through one voucher on the
  source and enter through one on the target, each balanced against a ``bucket_move`` clearing
  account, and the history stays in the source's books.
- ``UNIT``: the unit's own rows (its outbox and inbox, day-end marks, per-unit budgets and a
  merchant's per-unit settlement); they stay.
- ``ACCOUNTS``: ``accounts`` rows of the owner subjects in ``OWNER_SUBJECTS`` whose owner is in
  the bucket (a merchant's per-unit sub-accounts stay with their unit).
- ``Follows(..., via_accounts=True)``: rows of a moved account (its holds).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Follows:
    column: str
    via_accounts: bool = False


BOOKS = "books"
UNIT = "unit"
ACCOUNTS = "accounts"

# Subjects whose accounts belong to one owner (``<subject>:<owner id>``) and move with it.
OWNER_SUBJECTS = (
    "user_balance",
    "credit_receivable",
    "fund_shares",
    "fund_pending",
    "fund_redeeming",
)
# Unit accounts that hold money for records of many buckets (a trade's escrow, a red packet's
# unclaimed money, a withdrawal on its way to the bank): the moved bucket's share is the sum of
# the postings whose voucher's ref (the record's id) is in the bucket, and it moves too.
POOL_SUBJECTS = ("escrow", "red_packet_holding", "withdrawal_clearing")

TABLES: dict[str, Follows | str] = {
    "accounts": ACCOUNTS,
    "holds": Follows("account_id", via_accounts=True),
    "vouchers": BOOKS,
    "postings": BOOKS,
    "ledger_account_closings": BOOKS,
    "ledger_account_days": BOOKS,
    "ledger_day_closings": BOOKS,
    "ledger_subject_days": BOOKS,
    "messages": UNIT,  # drained before the copy; a late one is swept at retirement
    "inbox": UNIT,  # the consuming unit's dedupe: stays where the message was consumed
    "credit_day_end": UNIT,
    "yuebao_days": UNIT,
    "risk_snapshots": UNIT,
    "reduction_budgets": UNIT,
    "settlement_batches": UNIT,  # a merchant's settlement of one unit's sub-account
    "idempotency_keys": Follows("result_ref"),
    "autopay_agreements": Follows("user_id"),
    "bank_orders": Follows("user_id"),
    "bill_payments": Follows("user_id"),
    "card_transfer_quota": Follows("user_id"),
    "coupons": Follows("id"),
    "credit_accounts": Follows("user_id"),
    "credit_installment_offers": Follows("out_trade_no"),
    "credit_line_changes": Follows("user_id"),
    "credit_plan_periods": Follows("user_id"),
    "credit_plans": Follows("user_id"),
    "credit_purchases": Follows("user_id"),
    "credit_reminders": Follows("user_id"),
    "credit_repayments": Follows("user_id"),
    "credit_scores": Follows("user_id"),
    "credit_statement_items": Follows("statement_id"),
    "credit_statements": Follows("user_id"),
    "daily_spend": Follows("owner_id"),
    "merchant_activity": Follows("merchant_id"),  # gathered in the merchant's home unit
    "money_out_orders": Follows("owner_id"),
    "notice_prefs": Follows("user_id"),
    "notices": Follows("user_id"),
    "notify_tasks": Follows("trade_id"),
    "notify_attempts": Follows("task_id"),
    "one_time_codes": Follows("user_id"),
    "payment_code_funding": Follows("user_id"),
    "payment_code_settings": Follows("user_id"),
    "payment_codes": Follows("user_id"),
    "payments": Follows("id"),
    "red_packets": Follows("id"),
    "red_packet_shares": Follows("packet_id"),
    "reduction_uses": Follows("payment_id"),
    "refunds": Follows("payment_id"),
    "risk_challenges": Follows("party_id"),
    "risk_decisions": Follows("party_id"),
    "risk_known": Follows("user_id"),
    "trade_compensations": Follows("trade_id"),
    "trade_orders": Follows("id"),
    "trade_refunds": Follows("trade_id"),
    "trades": Follows("id"),
    "transfers": Follows("id"),
    "withdraw_quota": Follows("user_id"),
    "yuebao_orders": Follows("user_id"),
}


def moved_tables() -> list[tuple[str, Follows]]:
    """The tables whose rows move, in a stable order."""
    return sorted((t, r) for t, r in TABLES.items() if isinstance(r, Follows))
