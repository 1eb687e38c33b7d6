"""Risk's use cases: answering a challenge (the payer's password again, or two operators for a
large refund) and resuming the held movement; freezes, lists, merchant categories, cases, and
looking decisions up. Every operator action names its operator and its reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from qianbao.members import service as members
from qianbao.money_movement.context import decode, use
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.errors import QianbaoError
from qianbao.platform.ids import new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from qianbao.risk import aml, labels, record, store
from qianbao.risk.engine import RiskEngine
from qianbao.risk.errors import (
    AlreadyFrozen,
    CaseLabelInvalid,
    CaseNotFound,
    ChallengeClosed,
    ChallengeCodeWrong,
    ChallengeExpired,
    ChallengeFailed,
    ChallengeNotFound,
    ChallengeWrongMethod,
    DecisionQueryInvalid,
    FreezeNotFound,
    ListEntryInvalid,
    SameOperator,
)
from qianbao.risk.labels import Dataset
from qianbao.risk.rules import LIST_KINDS, LISTS

PARTY_KINDS = ("USER", "CARD", "MERCHANT")
LABELS = ("CONFIRMED_FRAUD", "FALSE_POSITIVE")
SCREENING_OPERATOR = "system:aml"  # who froze a wallet at registration
Resumer = Callable[[Platform, int, Any], Row]


def engine(p: Platform) -> RiskEngine:
    risk: RiskEngine = p.money.risk
    return risk


# --- challenges -----------------------------------------------------------------------------
def public_challenge(row: Row) -> dict[str, Any]:
    return {
        "challenge_id": row["id"],
        "movement_id": row["movement_id"],
        "method": row["method"],
        "status": row["status"],
        "attempts": row["attempts"],
        "approvals": [a for a in str(row["approvals"]).split(",") if a],
        "expires_at_ms": row["expires_at_ms"],
        "code_sent": bool(row["code_id"]),
    }


def _open_challenge(p: Platform, challenge_id: str, party_id: str | None, method: str) -> Row:
    try:
        unit = p.unit_of(challenge_id)
    except ValueError:
        raise ChallengeNotFound("no such challenge") from None
    row = store.challenge_in(p.units[unit], challenge_id)
    if row is None or (party_id is not None and row["party_id"] != party_id):
        raise ChallengeNotFound("no such challenge")
    if row["method"] != method:
        raise ChallengeWrongMethod(f"this challenge is answered by {row['method']}")
    if row["status"] != "PENDING":
        raise ChallengeClosed(f"challenge is {row['status']}")
    if clock.now_ms() > row["expires_at_ms"]:
        _move(p, row, "EXPIRED")
        raise ChallengeExpired("the challenge expired; the movement did not happen")
    return row


@dataclass(frozen=True)
class MoveChallenge:
    """A pending challenge answered, expired, failed or updated. A command as data (so it can
    be sent to the unit's process); its own ``__call__`` is its handler."""

    challenge_id: str
    target: str
    columns: dict[str, Any]

    def __call__(self, ctx: WriteContext) -> None:
        store.CHALLENGE.move(ctx.tx, self.challenge_id, "PENDING", self.target, **self.columns)


def _move(p: Platform, row: Row, target: str, **columns: Any) -> None:
    p.writers[p.unit_of(row["id"])].submit(MoveChallenge(row["id"], target, columns))


def answer_password(p: Platform, user_id: str, challenge_id: str, pay_password: str) -> Row:
    """The payer's password again: right → the held movement runs now and its result is
    returned; wrong → counted (the last allowed try fails the challenge for good)."""
    row = _open_challenge(p, challenge_id, user_id, "PAY_PASSWORD")
    try:
        members.authorize_payment(p, user_id, 0, pay_password)
    except QianbaoError:
        _wrong(p, row)
        raise
    _move(p, row, "ANSWERED")
    return resume(p, row)


CODE_PURPOSE = "risk_challenge"  # how the SMS names it (notices: 交易验证)


def send_code(p: Platform, user_id: str, challenge_id: str) -> dict[str, Any]:
    """The second way to answer a payer's challenge: a one-time code by SMS (a newer code
    replaces the older one)."""
    row = _open_challenge(p, challenge_id, user_id, "PAY_PASSWORD")
    codes = engine(p).codes
    if codes is None:
        raise ChallengeWrongMethod("one-time codes are not available here")
    code_id = codes.issue(p, user_id, CODE_PURPOSE)
    _move(p, row, "PENDING", code_id=code_id)
    return {**public_challenge(row), "code_sent": True}


def answer_code(p: Platform, user_id: str, challenge_id: str, code: str) -> Row:
    """The code sent for this challenge: right → the movement runs; wrong → counted as a wrong
    password would be."""
    row = _open_challenge(p, challenge_id, user_id, "PAY_PASSWORD")
    codes = engine(p).codes
    if codes is None or not row["code_id"]:
        raise ChallengeWrongMethod("ask for a code first (POST …/code)")
    if not codes.check(p, user_id, str(row["code_id"]), code):
        _wrong(p, row)
        raise ChallengeCodeWrong("wrong or expired code")
    _move(p, row, "ANSWERED")
    return resume(p, row)


def _wrong(p: Platform, row: Row) -> None:
    attempts = int(row["attempts"]) + 1
    limit = engine(p).rules.current.challenge_attempts
    _move(p, row, "FAILED" if attempts >= limit else "PENDING", attempts=attempts)
    if attempts >= limit:
        raise ChallengeFailed("too many wrong answers; the movement did not happen")


def approve(p: Platform, operator: str, challenge_id: str) -> dict[str, Any]:
    """Four eyes on a large refund: two different operators approve, then it runs."""
    row = _open_challenge(p, challenge_id, None, "SECOND_OPERATOR")
    approvals = [a for a in str(row["approvals"]).split(",") if a]
    if operator in approvals:
        raise SameOperator("a second, different operator must approve")
    approvals.append(operator)
    if len(approvals) < 2:
        _move(p, row, "PENDING", approvals=",".join(approvals))
        return {**public_challenge({**row, "approvals": ",".join(approvals)}), "result": None}
    _move(p, row, "ANSWERED", approvals=",".join(approvals))
    return {**public_challenge({**row, "status": "USED"}), "result": dict(resume(p, row))}


def resume(p: Platform, row: Row) -> Row:
    """Submit the held command again, carrying the answered challenge (the risk check then
    passes it unless a list or a freeze says otherwise since)."""
    command = p.commands.decode(json.loads(row["command"]))
    rc = decode(command.context).with_challenge(str(row["id"]))
    command = replace(command, context=rc.encode())
    unit = p.unit_of(str(row["id"]))
    resumer = engine(p).resumers.get(type(command))
    with use(rc):
        if resumer is not None:
            return resumer(p, unit, command)
        result: Row = p.commands.submit(unit, command)
        return result


# --- freezes --------------------------------------------------------------------------------
def freeze(p: Platform, party_kind: str, party_id: str, reason: str, operator: str) -> Row:
    party_kind = party_kind.upper()
    if party_kind not in PARTY_KINDS or not party_id or not reason.strip():
        raise ListEntryInvalid(f"a freeze names a party ({PARTY_KINDS}), an id and a reason")
    freeze_id = new_id(0)
    with p.global_db.transaction() as tx:
        if store.freeze_of(tx, party_kind, party_id) is not None:
            raise AlreadyFrozen(f"{party_kind.lower()} {party_id} is frozen already")
        store.insert_freeze(
            tx,
            {
                "id": freeze_id,
                "party_kind": party_kind,
                "party_id": party_id,
                "reason": reason[:200],
                "operator": operator,
                "now": clock.now_ms(),
            },
        )
        row = store.freeze_of(tx, party_kind, party_id)
    engine(p).refresh_lists()
    assert row is not None
    return row


def unfreeze(p: Platform, party_kind: str, party_id: str, reason: str, operator: str) -> Row:
    with p.global_db.transaction() as tx:
        row = store.freeze_of(tx, party_kind.upper(), party_id)
        if row is None:
            raise FreezeNotFound(f"{party_kind.lower()} {party_id} is not frozen")
        store.FREEZE.move(
            tx, row["id"], "ACTIVE", "LIFTED", lifted_by=operator, lift_reason=reason[:200]
        )
    engine(p).refresh_lists()
    return {**row, "status": "LIFTED", "lifted_by": operator, "lift_reason": reason[:200]}


def freezes(p: Platform) -> list[Row]:
    return store.active_freezes(p.global_db)


# --- lists and categories -------------------------------------------------------------------
def put_list_entry(
    p: Platform, list_name: str, kind: str, value: str, reason: str, operator: str
) -> dict[str, Any]:
    list_name, kind = list_name.lower(), kind.lower()
    if list_name not in LISTS or kind not in LIST_KINDS or not value or len(value) > 200:
        raise ListEntryInvalid(f"a list entry names a list {LISTS}, a kind {LIST_KINDS}, a value")
    row = {
        "list_name": list_name.upper(),
        "kind": kind.upper(),
        "value": value,
        "reason": reason[:200],
        "operator": operator,
        "now": clock.now_ms(),
    }
    store.put_list_entry(p.global_db, row)
    engine(p).refresh_lists()
    return row


def delete_list_entry(p: Platform, list_name: str, kind: str, value: str) -> int:
    n = store.delete_list_entry(p.global_db, list_name.upper(), kind.upper(), value)
    engine(p).refresh_lists()
    return n


def set_category(p: Platform, merchant_id: str, category: str, operator: str) -> None:
    members.get_merchant(p, merchant_id)
    if not category or len(category) > 30:
        raise ListEntryInvalid("a category is 1-30 characters")
    store.put_category(p.global_db, merchant_id, category, operator, clock.now_ms())
    engine(p).refresh_lists()


# --- decisions ------------------------------------------------------------------------------
def public_decision(row: Row) -> dict[str, Any]:
    return {
        **{
            k: row[k]
            for k in (
                "id",
                "movement_kind",
                "movement_id",
                "party_id",
                "payee_id",
                "amount_fen",
                "outcome",
                "score",
                "rules_version",
                "model_version",
                "challenge_id",
                "created_at_ms",
            )
        },
        "reasons": json.loads(row["reasons"]),
        "inputs": record.inputs(row),
    }


def decisions(p: Platform, *, movement_id: str = "", party_id: str = "") -> list[Row]:
    """A movement's decisions (every try: a challenge and its answered pass), or a party's.
    The movement's own unit is read first (its id routes there), then the others."""
    if not movement_id and not party_id:
        raise DecisionQueryInvalid("give payment_id (any movement's id) or party_id")
    found: list[Row] = []
    key = movement_id or party_id
    try:
        home = p.unit_of(key)
    except ValueError:
        raise DecisionQueryInvalid("not an id of this platform") from None
    for unit in [home, *(u for u in range(len(p.units)) if u != home)]:
        found += store.decisions_of(p.units[unit], movement_id=movement_id, party_id=party_id)
        if found and movement_id:
            break
    return found


# --- cases ----------------------------------------------------------------------------------
def open_cases_for(p: Platform, rejected: list[dict[str, Any]]) -> None:
    """Each rejection opens a case (the case id is the decision's: at most one per decision)."""
    with p.global_db.transaction() as tx:
        for d in rejected:
            store.open_case(
                tx,
                {
                    "id": d["id"],
                    "party_id": d["party_id"],
                    "decision_id": d["id"],
                    "source": "DECISION",
                    "now": d["now"],
                    "summary": f"{d['kind']} {d['amount_fen']} fen rejected",
                },
            )


def open_case(
    p: Platform,
    party_id: str,
    summary: str,
    source: str = "OPERATOR",
    decision_id: str | None = None,
) -> Row:
    case_id = new_id(0)
    with p.global_db.transaction() as tx:
        store.open_case(
            tx,
            {
                "id": case_id,
                "party_id": party_id,
                "decision_id": decision_id,
                "source": source,
                "summary": summary[:300],
                "now": clock.now_ms(),
            },
        )
    return get_case(p, case_id)


def get_case(p: Platform, case_id: str) -> dict[str, Any]:
    with p.global_db.read() as tx:
        row = store.get_case(tx, case_id)
        if row is None:
            raise CaseNotFound("no such case")
        return {**row, "notes": [dict(n) for n in store.notes(tx, case_id)]}


def cases(p: Platform, status: str | None = None, limit: int = 100) -> list[Row]:
    return store.cases(p.global_db, status.upper() if status else None, limit)


def assign(p: Platform, case_id: str, assignee: str) -> dict[str, Any]:
    with p.global_db.transaction() as tx:
        row = store.get_case(tx, case_id)
        if row is None:
            raise CaseNotFound("no such case")
        store.CASE.move(tx, case_id, str(row["status"]), "ASSIGNED", assignee=assignee)
    return get_case(p, case_id)


def note(p: Platform, case_id: str, operator: str, text: str) -> dict[str, Any]:
    if not text.strip():
        raise CaseLabelInvalid("a note has text")
    with p.global_db.transaction() as tx:
        if store.get_case(tx, case_id) is None:
            raise CaseNotFound("no such case")
        store.add_note(tx, case_id, operator, text[:2000], clock.now_ms())
    return get_case(p, case_id)


def close(p: Platform, case_id: str, operator: str, label: str) -> dict[str, Any]:
    """The verdict: confirmed fraud or a false positive (kept as a training label)."""
    if label.upper() not in LABELS:
        raise CaseLabelInvalid(f"label is one of {LABELS}")
    with p.global_db.transaction() as tx:
        row = store.get_case(tx, case_id)
        if row is None:
            raise CaseNotFound("no such case")
        store.CASE.move(tx, case_id, str(row["status"]), "CLOSED", label=label.upper())
        store.add_note(tx, case_id, operator, f"closed as {label.upper()}", clock.now_ms())
    return get_case(p, case_id)


def get_decision(p: Platform, decision_id: str) -> Row:
    """One decision by its id (its id routes to the unit that made it)."""
    try:
        unit = p.unit_of(decision_id)
    except ValueError:
        raise DecisionQueryInvalid("not a decision id") from None
    row = store.decision(p.units[unit], decision_id)
    if row is None:
        raise DecisionQueryInvalid("no such decision")
    return row


def label_dataset(p: Platform) -> Dataset:
    """The operators' verdicts as training examples (``labels.assemble``): every labelled case
    with the decision it points at, looked up in the unit that made it."""
    cases = [dict(c) for c in store.labels(p.global_db)]
    found: dict[str, dict[str, Any]] = {}
    for case in cases:
        decision_id = str(case["decision_id"] or "")
        if decision_id and decision_id not in found:
            try:
                row = get_decision(p, decision_id)
                found[decision_id] = {**dict(row), "inputs": record.inputs(row)}
            except DecisionQueryInvalid:
                continue  # counted as decision_missing
    return labels.assemble(cases, found)


# --- AML: the watch list and the daily reports ------------------------------------------------
def watchlist_path(p: Platform) -> Path:
    return p.settings.data_dir / "risk" / "watchlist.csv"


def load_watchlist(p: Platform, text: str, operator: str) -> dict[str, Any]:
    """Replace the watch list (kept as a file in the data directory, so a restart keeps it),
    screen every existing user against it and open a case for each hit."""
    wl = aml.parse_watchlist(p, text, f"loaded by {operator}")
    path = watchlist_path(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    engine(p).load_watchlist(wl)
    hits = aml.screen_all(p, wl)
    for hit in hits:
        open_case(p, hit["user_id"], f"AML watch list: {hit['match']} match", source="AML")
    return {"names": len(wl.names), "id_numbers": len(wl.id_hashes), "hits": hits}


def screen_registration(p: Platform, user: Row) -> str:
    """A new user against the watch list: an ID-number hit freezes the wallet until an operator
    clears the case (names collide, so a name-only hit opens a case and freezes nothing)."""
    eng = engine(p)
    match = eng.watchlist.match(str(user["id_number_hash"]), str(user["name"]))
    eng.screened[str(user["id"])] = match
    if match == "id":
        reason = "AML watch list: ID-number match at registration"
        freeze(p, "USER", str(user["id"]), reason, SCREENING_OPERATOR)
    if match:
        summary = f"AML watch list: {match} match at registration"
        open_case(p, str(user["id"]), summary, source="AML")
    return match


def restore_watchlist(p: Platform) -> None:
    """At start: the last list an operator loaded, if any."""
    path = watchlist_path(p)
    if path.exists():
        engine(p).load_watchlist(
            aml.parse_watchlist(p, path.read_text(encoding="utf-8"), str(path))
        )


def daily_reports(p: Platform, day: date) -> dict[str, Any]:
    return aml.daily_reports(p, day)


def report_file(p: Platform, day: date, kind: str) -> Path:
    path = aml.report_path(p, day, kind)
    if not path.exists():
        aml.daily_reports(p, day)
    return path
