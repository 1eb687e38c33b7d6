"""``qianbao units move-bucket B --to U``: the move as a state machine in the global database.

PLANNED -> PAUSED (a route version lists B as paused: ``Platform.unit_of`` answers 503
``BUCKET_MOVING`` to callers; in-flight commands drain through the source writer) -> COPIED
(one pass: ``copy.move_out`` / ``copy.move_in``, then the check) -> SWITCHED (a route version
sends B to U and unpauses it) -> RETIRED (a sweep pass for what arrived late, then the moved
rows are deleted on the source). Every step is idempotent, so ``run`` after a kill resumes the
bucket's unfinished move from the state it reached; before the copy it may also be aborted.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from qianbao.cluster.buckets import commands, copy, store
from qianbao.cluster.buckets.classify import moved_tables
from qianbao.cluster.buckets.errors import (
    BucketAlreadyThere,
    BucketInvalid,
    MoveCheckFailed,
    MoveInProgress,
    MoveNotAbortable,
    UnitInvalid,
)
from qianbao.ledger import service as ledger
from qianbao.platform import route_store
from qianbao.platform.ids import BUCKETS, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine

log = logging.getLogger("qianbao.buckets")
MOVE = StateMachine(
    "bucket move",
    "bucket_moves",
    {
        "PLANNED": {"PAUSED", "ABORTED"},
        "PAUSED": {"COPIED", "ABORTED"},
        "COPIED": {"SWITCHED"},
        "SWITCHED": {"RETIRED"},
    },
    initial={"PLANNED"},
)
DELIVERY_WAIT_S = 30.0  # messages sent before the switch, delivered before the sweep
GRACE_S = 0.05  # a caller past the gate reaches the writer's queue well within this
# From a process other than the serving one: every process has refreshed its routes by then
OTHER_PROCESS_GRACE_S = 2 * route_store.REFRESH_S + 0.5


def plan(p: Platform, bucket: int, to_unit: int) -> str:
    """A PLANNED move (or the bucket's unfinished one, to the same unit)."""
    if not 0 <= bucket < BUCKETS:
        raise BucketInvalid(f"bucket must be 0-{BUCKETS - 1}, not {bucket}")
    if not 0 <= to_unit < len(p.units):
        raise UnitInvalid(f"unit {to_unit} does not exist ({len(p.units)} units)")
    route_store.refresh(p)
    unfinished = store.open_move(p.global_db, bucket)
    if unfinished is not None:
        if int(unfinished["to_unit"]) != to_unit:
            raise MoveInProgress(f"bucket {bucket} is moving to unit {unfinished['to_unit']}")
        return str(unfinished["id"])
    if p.routes[bucket] == to_unit:
        raise BucketAlreadyThere(f"bucket {bucket} is already at unit {to_unit}")
    move_id = new_id(bucket)
    store.insert_move(p.global_db, move_id, bucket, p.routes[bucket], to_unit)
    return move_id


def run(
    p: Platform, bucket: int, to_unit: int, *, stop_after: str = "", grace_s: float = GRACE_S
) -> dict[str, Any]:
    """Plan (or resume) the bucket's move and drive it to RETIRED; ``stop_after`` a state
    stops there (the crash tests). ``grace_s``: how long the pause is left to reach every
    process before the drain (``OTHER_PROCESS_GRACE_S`` when others serve)."""
    commands.register(p)
    move_id = plan(p, bucket, to_unit)
    steps: dict[str, Callable[[Platform, Any], None]] = {
        "PLANNED": _pause,
        "PAUSED": lambda p, row: _copy(p, row, grace_s),
        "COPIED": _switch,
        "SWITCHED": lambda p, row: _retire(p, row, grace_s),
    }
    while True:
        row = store.get_move(p.global_db, move_id)
        assert row is not None
        status = str(row["status"])
        if status not in steps or status == stop_after:
            return {k: row[k] for k in row.keys()}  # noqa: SIM118 (sqlite3.Row)
        steps[status](p, row)


def _fields(step: copy.Pass) -> tuple[int, int, int, str]:
    return (step.bucket, step.source, step.target, step.ref)


def _pass(row: Any, phase: str) -> copy.Pass:
    return copy.Pass(int(row["bucket"]), int(row["from_unit"]), int(row["to_unit"]), phase)


def _set_routes(p: Platform, bucket: int, unit: int | None, paused: bool, why: str) -> None:
    base = route_store.current(p)
    routes = list(base.routes)
    if unit is not None:
        routes[bucket] = unit
    gate = base.paused | {bucket} if paused else base.paused - {bucket}
    route_store.apply(p, route_store.write(p.global_db, base, tuple(routes), gate, why))


def _pause(p: Platform, row: Any) -> None:
    bucket = int(row["bucket"])
    _set_routes(p, bucket, None, True, f"move {row['id']}: pause bucket {bucket}")
    with p.global_db.transaction() as tx:
        MOVE.move(tx, row["id"], "PLANNED", "PAUSED")


def _drain(p: Platform, unit: int, grace_s: float) -> None:
    """What passed the gate before the pause is executed: a barrier through the unit's writer
    (its queue is first in, first out). Messages still on their way are not waited for here:
    they land on the source and the retirement sweep carries them across."""
    time.sleep(grace_s)
    p.commands.submit(unit, commands.Barrier(unit))


def _delivered(p: Platform, unit: int, before_ms: int) -> int:
    """Wait (bounded) until every outbox has delivered its messages for ``unit`` created by
    ``before_ms`` (the relays deliver them: this process's or the unit processes'); returns
    how many are still pending (0, or the sweep leaves them behind and the log says so)."""
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while True:
        left = sum(store.pending_to(db, unit, before_ms) for db in p.units)
        if not left or time.monotonic() > deadline:
            if left:
                log.error("%s messages for unit %s still pending before the sweep", left, unit)
            return left
        time.sleep(0.05)


def _one_pass(p: Platform, step: copy.Pass, *, replace: bool) -> dict[str, list[dict[str, Any]]]:
    p.commands.submit(step.source, commands.MoveOut(*_fields(step)))
    rows = copy.source_rows(p, step)
    p.commands.submit(step.target, commands.MoveIn(*_fields(step), rows, replace))
    return rows


def _copy(p: Platform, row: Any, grace_s: float) -> None:
    _drain(p, int(row["from_unit"]), grace_s)
    step = _pass(row, f"copy:{row['id']}")
    _one_pass(p, step, replace=True)
    report = check(p, step)
    with p.global_db.transaction() as tx:
        MOVE.move(tx, row["id"], "PAUSED", "COPIED", report=store.report_json(report))


def _moved_out(p: Platform, step: copy.Pass) -> dict[str, int]:
    """The owner balances the source's voucher took out, by subject."""
    with p.units[step.source].read() as tx:
        legs = store.voucher_legs(tx, copy.OUT, step.ref) or []
    totals: dict[str, int] = {}
    for account, amount in legs:
        subject = copy.store_subject(account)
        if subject in copy.OWNER_SUBJECTS:
            totals[subject] = totals.get(subject, 0) - ledger.SUBJECTS[subject].side * amount
    return {s: x for s, x in totals.items() if x}


def _on_target(p: Platform, step: copy.Pass) -> dict[str, int]:
    totals: dict[str, int] = {}
    with p.units[step.target].read() as tx:
        for acct in store.owner_accounts(tx, copy.OWNER_SUBJECTS, step.bucket):
            subject = str(acct["subject"])
            totals[subject] = totals.get(subject, 0) + int(acct["balance_fen"])
    return {s: x for s, x in totals.items() if x}


def _voucher_balanced(p: Platform, unit: int, kind: str, ref: str) -> bool:
    with p.units[unit].read() as tx:
        return sum(x for _, x in store.voucher_legs(tx, kind, ref) or []) == 0


def check(p: Platform, step: copy.Pass) -> dict[str, Any]:
    """While paused (so it stays cheap however large the units): the move's two vouchers
    balance, the target holds exactly the balances the source gave up (a credit that reaches
    the source later is swept at retirement), every row was copied. Both units' whole ledger
    checks run at retirement, after the switch (``ledgers_checked``)."""
    vouchers = [_voucher_balanced(p, step.source, copy.OUT, step.ref)]
    vouchers.append(_voucher_balanced(p, step.target, copy.IN, step.ref))
    counts = {
        table: [store.count_of(p.units[u], table, rule.column, step.bucket) for u in units_of(step)]
        for table, rule in moved_tables()
        if not rule.via_accounts and table != "credit_installment_offers"
    }
    report = {
        "vouchers_balanced": all(vouchers),
        "balances_moved_out": _moved_out(p, step),
        "balances_on_target": _on_target(p, step),
        "rows": {t: c for t, c in counts.items() if c != [0, 0]},
    }
    short = [t for t, (src, dst) in counts.items() if dst < src]
    same = report["balances_moved_out"] == report["balances_on_target"]
    if not all(vouchers) or not same or short:
        raise MoveCheckFailed(f"bucket {step.bucket} check failed: {json.dumps(report)[:500]}")
    return report


def units_of(step: copy.Pass) -> tuple[int, int]:
    return (step.source, step.target)


def _switch(p: Platform, row: Any) -> None:
    bucket, target = int(row["bucket"]), int(row["to_unit"])
    _set_routes(p, bucket, target, False, f"move {row['id']}: bucket {bucket} to unit {target}")
    with p.global_db.transaction() as tx:
        MOVE.move(tx, row["id"], "COPIED", "SWITCHED")


def _retire(p: Platform, row: Any, grace_s: float) -> None:
    """Sweep what reached the source after the copy (a message in flight), then delete."""
    _drain(p, int(row["from_unit"]), grace_s)
    _delivered(p, int(row["from_unit"]), int(row["updated_at_ms"]))  # sent before the switch
    step = _pass(row, f"sweep:{row['id']}")
    rows = _one_pass(p, step, replace=False)  # the target's rows are newer than these
    p.commands.submit(step.source, commands.RetireRows(rows))
    report = ledgers_checked(p, row)
    with p.global_db.transaction() as tx:
        MOVE.move(tx, row["id"], "SWITCHED", "RETIRED", report=store.report_json(report))


def ledgers_checked(p: Platform, row: Any) -> dict[str, Any]:
    """Both units' ledger checks (each sums to zero, every balance is its postings), added to
    the move's report; a failure keeps the move SWITCHED (rerun after the repair)."""
    units = (int(row["from_unit"]), int(row["to_unit"]))
    checks = {str(u): ledger.check_unit(u, p.units[u]).ok for u in units}
    report = {**json.loads(str(row["report"]) or "{}"), "ledgers_ok": checks}
    if not all(checks.values()):
        raise MoveCheckFailed(f"move {row['id']}: a unit's ledger check failed: {checks}")
    return report


def abort(p: Platform, bucket: int) -> str:
    """Give up the bucket's move before anything was copied: the pause is lifted."""
    row = store.open_move(p.global_db, bucket)
    if row is None:
        raise MoveNotAbortable(f"bucket {bucket} has no unfinished move")
    status = str(row["status"])
    with p.units[int(row["from_unit"])].read() as tx:
        booked = store.voucher_legs(tx, copy.OUT, f"copy:{row['id']}") is not None
    if status not in ("PLANNED", "PAUSED") or booked:
        raise MoveNotAbortable(f"move {row['id']} is {status}, past its copy: run it to the end")
    if bucket in route_store.current(p).paused:
        _set_routes(p, bucket, None, False, f"move {row['id']}: aborted")
    with p.global_db.transaction() as tx:
        MOVE.move(tx, row["id"], status, "ABORTED")
    return str(row["id"])
