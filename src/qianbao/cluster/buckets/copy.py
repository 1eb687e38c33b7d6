"""One pass of a bucket's data from its source unit to its target (ADR 0935).

A pass is two writer commands, each one transaction of one unit:
1. ``move_out`` on the source: the bucket's owner accounts and its share of the pool accounts
   go to zero through one voucher ``bucket_move_out`` balanced against ``bucket_move:uS>uT``.
2. ``move_in`` on the target: the bucket's rows of every ``Follows`` table are upserted, its
   accounts opened, and one voucher ``bucket_move_in`` books the mirror of the source's voucher
   against ``bucket_move:uT>uS``; the two clearing accounts cancel across the units.
Both are idempotent by their voucher (kind + ref): a pass re-run after a crash books nothing
twice. The ref ends in the bucket, so the pool shares count the move's own vouchers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qianbao.cluster.buckets import store
from qianbao.cluster.buckets.classify import OWNER_SUBJECTS, POOL_SUBJECTS, Follows, moved_tables
from qianbao.cluster.buckets.errors import HoldsOnMovedAccount
from qianbao.ledger import service as ledger
from qianbao.ledger.chart import account_id
from qianbao.ledger.store import open_accounts
from qianbao.payments.trades import order_bucket
from qianbao.platform.db import Row, Tx
from qianbao.platform.runtime import Platform
from qianbao.platform.schema import unit_metadata
from qianbao.platform.writer import WriteContext

OUT, IN = "bucket_move_out", "bucket_move_in"


@dataclass(frozen=True)
class Pass:
    bucket: int
    source: int
    target: int
    ref: str  # "<phase>:<move id>": ends in the bucket


def clearing(unit: int, peer: int) -> str:
    return account_id("bucket_move", f"u{unit}>u{peer}")


def keys_of(table: str) -> list[str]:
    return [c.name for c in unit_metadata.tables[table].primary_key.columns]


def as_dict(row: Row) -> dict[str, Any]:
    return {k: row[k] for k in row.keys()}  # noqa: SIM118 (sqlite3.Row is not a dict)


def bucket_rows(tx: Tx, table: str, rule: Follows, bucket: int, accounts: list[str]) -> list[Row]:
    """The rows of ``table`` that belong to ``bucket`` (``classify.TABLES``)."""
    if rule.via_accounts:
        return store.rows_in(tx, table, rule.column, accounts)
    if table == "credit_installment_offers":  # keyed by the trade's order bucket (ADR 0301)
        return [
            r
            for r in store.all_rows(tx, table)
            if order_bucket(str(r["merchant_id"]), str(r["out_trade_no"])) == bucket
        ]
    return store.rows_of(tx, table, rule.column, bucket)


def out_legs(tx: Tx, step: Pass) -> list[tuple[str, int]]:
    """Legs bringing the bucket's accounts and pool shares on the source to zero."""
    legs: list[tuple[str, int]] = []
    for acct in store.owner_accounts(tx, OWNER_SUBJECTS, step.bucket):
        if int(acct["hold_fen"]):
            raise HoldsOnMovedAccount(f"account {acct['id']} has frozen money; release it first")
        signed = ledger.SUBJECTS[str(acct["subject"])].side * int(acct["balance_fen"])
        legs.append((str(acct["id"]), -signed))
    legs += [(a, -s) for a, s in store.pool_shares(tx, POOL_SUBJECTS, step.bucket).items()]
    legs = [(a, x) for a, x in legs if x]
    if legs:
        legs.append((clearing(step.source, step.target), -sum(x for _, x in legs)))
    return legs


def move_out(ctx: WriteContext, step: Pass) -> list[tuple[str, int]]:
    """Source-side command; returns the voucher's legs (booked now or by an earlier run)."""
    done = store.voucher_legs(ctx.tx, OUT, step.ref)
    if done is not None:
        return done
    legs = out_legs(ctx.tx, step)
    if legs:
        open_accounts(ctx.db, [(clearing(step.source, step.target), f"u{step.source}")])
        ledger.post(ctx, OUT, step.ref, legs, f"bucket {step.bucket} to unit {step.target}")
    return legs


def source_rows(p: Platform, step: Pass) -> dict[str, list[dict[str, Any]]]:
    """Every moved table's rows of the bucket on the source (read after ``move_out``)."""
    with p.units[step.source].read() as tx:
        owners = store.owner_accounts(tx, OWNER_SUBJECTS, step.bucket)
        accounts = [str(a["id"]) for a in owners]
        rows = {
            table: [as_dict(r) for r in bucket_rows(tx, table, rule, step.bucket, accounts)]
            for table, rule in moved_tables()
        }
        rows["accounts"] = [as_dict(a) for a in owners]
    return rows


def move_in(
    ctx: WriteContext, step: Pass, rows: dict[str, list[dict[str, Any]]], *, replace: bool
) -> int:
    """Target-side command: the rows (``replace``: a row with the same key is overwritten, else
    kept), the accounts and the mirror voucher; returns the rows written."""
    if store.voucher_legs(ctx.tx, IN, step.ref) is not None:
        return 0
    with ctx.platform.units[step.source].read() as src:
        out = store.voucher_legs(src, OUT, step.ref) or []
    written = sum(
        store.upsert(ctx.tx, t, keys_of(t), r, replace=replace)
        for t, r in rows.items()
        if t != "accounts"
    )
    peer = clearing(step.target, step.source)
    owners = [(str(a["id"]), str(a["owner_id"])) for a in rows["accounts"]]
    pools = [
        (_local(a, step), f"u{step.target}") for a, _ in out if store_subject(a) in POOL_SUBJECTS
    ]
    open_accounts(ctx.db, [*owners, *pools, (peer, f"u{step.target}")])
    legs = [(_local(a, step), -x) for a, x in out if a != clearing(step.source, step.target)]
    if legs:
        legs.append((peer, -sum(x for _, x in legs)))
        ledger.post(ctx, IN, step.ref, legs, f"bucket {step.bucket} from unit {step.source}")
    return written


def store_subject(account: str) -> str:
    return account.split(":", 1)[0]


def _local(account: str, step: Pass) -> str:
    """The target's account for a source account: owner accounts keep their id; a pool account
    of the source unit (``escrow:u0``) becomes the target's (``escrow:u2``)."""
    subject, _, owner = account.partition(":")
    if subject not in POOL_SUBJECTS:
        return account
    qualifier, at, unit = owner.rpartition("@")
    assert (unit or qualifier) == f"u{step.source}", account
    return account_id(subject, f"{qualifier}{at}u{step.target}")


def retire(ctx: WriteContext, rows: dict[str, list[dict[str, Any]]]) -> int:
    """Source-side command after the switch: delete the moved rows (accounts stay, at zero,
    because the unit's books still hold their history)."""
    for table, table_rows in rows.items():
        if table != "accounts":
            store.delete_keys(ctx.tx, table, keys_of(table), table_rows)
    return sum(len(r) for t, r in rows.items() if t != "accounts")
