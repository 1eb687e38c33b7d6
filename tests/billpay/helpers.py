"""Billers on the simulator, their customers' accounts and bills."""

from __future__ import annotations

import itertools

from qianbao.billpay import service as billpay
from qianbao.platform.runtime import Platform

_seq = itertools.count(1)


def water(p: Platform) -> str:
    n = next(_seq)
    return str(billpay.register_biller(p, f"WATER{n}", f"杭州水务{n}", "WATER")["code"])


def account_with_bills(p: Platform, biller: str, *amounts_fen: int, holder: str = "张三") -> str:
    """A customer account at the biller with one bill per amount (periods 2026-01, -02, ...)."""
    account_no = f"{3300000 + next(_seq)}"
    p.billers.open_account(biller, account_no, holder)
    for month, amount in enumerate(amounts_fen, start=1):
        p.billers.issue_bill(
            biller, account_no, f"2026-{month:02d}", amount, f"2026-{month:02d}-25"
        )
    return account_no


def bill_ids(p: Platform, biller: str, account_no: str) -> list[str]:
    return [b.bill_id for b in billpay.lookup(p, biller, account_no)]
