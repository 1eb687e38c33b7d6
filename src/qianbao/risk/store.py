"""Risk's SQL: decisions, challenges, profiles and snapshots in the unit; freezes, lists,
merchant categories and cases in the global database."""

from __future__ import annotations

from typing import Any

from qianbao.platform.db import Database, Row, Tx
from qianbao.platform.states import StateMachine

CHALLENGE = StateMachine(
    "risk challenge",
    "risk_challenges",
    {"PENDING": {"PENDING", "ANSWERED", "FAILED", "EXPIRED"}, "ANSWERED": {"USED"}},
    initial={"PENDING"},
)
FREEZE = StateMachine("freeze", "risk_freezes", {"ACTIVE": {"LIFTED"}}, initial={"ACTIVE"})
CASE = StateMachine(
    "risk case",
    "risk_cases",
    {"OPEN": {"ASSIGNED", "CLOSED"}, "ASSIGNED": {"ASSIGNED", "CLOSED"}},
    initial={"OPEN"},
)

_DECISION = (
    "INSERT INTO risk_decisions (id, movement_kind, movement_id, party_id, payee_id, amount_fen,"
    " outcome, score, reasons, inputs, rules_version, model_version, challenge_id, request_key,"
    " created_at_ms) VALUES (:id, :kind, :movement_id, :party_id, :payee_id, :amount_fen,"
    " :outcome, :score, :reasons, :inputs, :rules_version, :model_version, :challenge_id,"
    " :request_key, :now)"
)
_CHALLENGE = (
    "INSERT INTO risk_challenges (id, decision_id, movement_id, party_id, method, command,"
    " status, attempts, approvals, expires_at_ms, created_at_ms, updated_at_ms) VALUES (:id,"
    " :decision_id, :movement_id, :party_id, :method, :command, 'PENDING', 0, '', :expires,"
    " :now, :now)"
)
_KNOWN = (
    "INSERT INTO risk_known (user_id, kind, value, first_seen_ms) VALUES (:user_id, :kind,"
    " :value, :now) ON CONFLICT (user_id, kind, value) DO NOTHING"
)


# --- unit: written by the batch ------------------------------------------------------------
def insert_decisions(tx: Tx, rows: list[dict[str, Any]]) -> None:
    if rows:
        tx.execute_values(_DECISION, rows)


def insert_challenges(tx: Tx, rows: list[dict[str, Any]]) -> None:
    if rows:
        tx.execute_values(_CHALLENGE, rows)


def insert_known(tx: Tx, rows: list[dict[str, Any]]) -> None:
    if rows:
        tx.execute_values(_KNOWN, rows)


def insert_snapshot(tx: Tx, taken_at_ms: int, body: str, oldest_ms: int) -> None:
    """One delta of the counters; deltas older than the counters' horizon are dropped."""
    tx.execute(
        "INSERT INTO risk_snapshots (taken_at_ms, body) VALUES (:t, :b)",
        {"t": taken_at_ms, "b": body},
    )
    tx.execute("DELETE FROM risk_snapshots WHERE taken_at_ms < :oldest", {"oldest": oldest_ms})


# --- unit: read at start and by the challenge path ----------------------------------------
def all_known(tx: Tx) -> list[Row]:
    return tx.all("SELECT user_id, kind, value, first_seen_ms FROM risk_known")


def snapshots_since(tx: Tx, oldest_ms: int) -> list[Row]:
    return tx.all(
        "SELECT taken_at_ms, body FROM risk_snapshots WHERE taken_at_ms >= :t ORDER BY id",
        {"t": oldest_ms},
    )


def passed_since(tx: Tx, since_ms: int) -> list[Row]:
    return tx.all(
        "SELECT movement_kind, party_id, payee_id, amount_fen, inputs, created_at_ms"
        " FROM risk_decisions WHERE outcome = 'PASS' AND created_at_ms > :t"
        " ORDER BY created_at_ms",
        {"t": since_ms},
    )


def held_since(tx: Tx, since_ms: int) -> list[Row]:
    """Refusals of requests with a key (a retry of one answers the same)."""
    return tx.all(
        "SELECT d.id, d.outcome, d.challenge_id, d.request_key, d.created_at_ms, c.expires_at_ms"
        " FROM risk_decisions d LEFT JOIN risk_challenges c ON c.id = d.challenge_id"
        " WHERE d.outcome <> 'PASS' AND d.request_key IS NOT NULL AND d.created_at_ms > :t",
        {"t": since_ms},
    )


def get_challenge(tx: Tx, challenge_id: str) -> Row | None:
    return tx.one("SELECT * FROM risk_challenges WHERE id = :id", {"id": challenge_id})


def count_attempt(tx: Tx, challenge_id: str) -> None:
    CHALLENGE.move(tx, challenge_id, "PENDING", "PENDING", attempts=_attempts(tx, challenge_id) + 1)


def _attempts(tx: Tx, challenge_id: str) -> int:
    return int(
        tx.scalar("SELECT attempts FROM risk_challenges WHERE id = :id", {"id": challenge_id})
    )


def decisions_of(
    db: Database, *, movement_id: str = "", party_id: str = "", limit: int = 100
) -> list[Row]:
    column, value = ("movement_id", movement_id) if movement_id else ("party_id", party_id)
    with db.read() as tx:
        return tx.all(
            f"SELECT * FROM risk_decisions WHERE {column} = :v ORDER BY created_at_ms DESC"
            " LIMIT :n",
            {"v": value, "n": limit},
        )


def decision(db: Database, decision_id: str) -> Row | None:
    with db.read() as tx:
        return tx.one("SELECT * FROM risk_decisions WHERE id = :id", {"id": decision_id})


def challenge_in(db: Database, challenge_id: str) -> Row | None:
    with db.read() as tx:
        return get_challenge(tx, challenge_id)


# --- global: lists, freezes, categories -----------------------------------------------------
def active_freezes(db: Database) -> list[Row]:
    with db.read() as tx:
        return tx.all("SELECT * FROM risk_freezes WHERE status = 'ACTIVE' ORDER BY created_at_ms")


def freeze_of(tx: Tx, party_kind: str, party_id: str) -> Row | None:
    return tx.one(
        "SELECT * FROM risk_freezes WHERE party_kind = :k AND party_id = :p AND status = 'ACTIVE'",
        {"k": party_kind, "p": party_id},
    )


def insert_freeze(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO risk_freezes (id, party_kind, party_id, status, reason, operator,"
        " created_at_ms, updated_at_ms) VALUES (:id, :party_kind, :party_id, 'ACTIVE', :reason,"
        " :operator, :now, :now)",
        row,
    )


def list_entries(db: Database) -> list[Row]:
    with db.read() as tx:
        return tx.all("SELECT * FROM risk_list_entries ORDER BY list_name, kind, value")


def put_list_entry(db: Database, row: dict[str, Any]) -> None:
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM risk_list_entries WHERE list_name = :list_name AND kind = :kind"
            " AND value = :value",
            row,
        )
        tx.execute(
            "INSERT INTO risk_list_entries (list_name, kind, value, reason, operator,"
            " created_at_ms) VALUES (:list_name, :kind, :value, :reason, :operator, :now)",
            row,
        )


def delete_list_entry(db: Database, list_name: str, kind: str, value: str) -> int:
    with db.transaction() as tx:
        return tx.execute(
            "DELETE FROM risk_list_entries WHERE list_name = :l AND kind = :k AND value = :v",
            {"l": list_name, "k": kind, "v": value},
        )


def categories(db: Database) -> list[Row]:
    with db.read() as tx:
        return tx.all("SELECT merchant_id, category FROM risk_merchant_categories")


def put_category(db: Database, merchant_id: str, category: str, operator: str, now: int) -> None:
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM risk_merchant_categories WHERE merchant_id = :m", {"m": merchant_id}
        )
        tx.execute(
            "INSERT INTO risk_merchant_categories (merchant_id, category, operator,"
            " updated_at_ms) VALUES (:m, :c, :o, :now)",
            {"m": merchant_id, "c": category, "o": operator, "now": now},
        )


# --- global: cases --------------------------------------------------------------------------
def open_case(tx: Tx, row: dict[str, Any]) -> int:
    return tx.execute(
        "INSERT INTO risk_cases (id, party_id, decision_id, source, summary, status,"
        " created_at_ms, updated_at_ms) VALUES (:id, :party_id, :decision_id, :source, :summary,"
        " 'OPEN', :now, :now) ON CONFLICT (id) DO NOTHING",
        row,
    )


def cases(db: Database, status: str | None, limit: int) -> list[Row]:
    with db.read() as tx:
        if status:
            return tx.all(
                "SELECT * FROM risk_cases WHERE status = :s ORDER BY created_at_ms LIMIT :n",
                {"s": status, "n": limit},
            )
        return tx.all("SELECT * FROM risk_cases ORDER BY created_at_ms DESC LIMIT :n", {"n": limit})


def get_case(tx: Tx, case_id: str) -> Row | None:
    return tx.one("SELECT * FROM risk_cases WHERE id = :id", {"id": case_id})


def notes(tx: Tx, case_id: str) -> list[Row]:
    return tx.all("SELECT * FROM risk_case_notes WHERE case_id = :id ORDER BY seq", {"id": case_id})


def add_note(tx: Tx, case_id: str, operator: str, text: str, now: int) -> None:
    seq = int(
        tx.scalar(
            "SELECT COALESCE(MAX(seq), 0) FROM risk_case_notes WHERE case_id = :id",
            {"id": case_id},
        )
    )
    tx.execute(
        "INSERT INTO risk_case_notes (case_id, seq, operator, text, created_at_ms)"
        " VALUES (:id, :seq, :o, :t, :now)",
        {"id": case_id, "seq": seq + 1, "o": operator, "t": text, "now": now},
    )


def labels(db: Database) -> list[Row]:
    """Operators' verdicts (fed back as training labels)."""
    with db.read() as tx:
        return tx.all(
            "SELECT id, party_id, decision_id, status, label, updated_at_ms FROM risk_cases"
            " WHERE label IS NOT NULL ORDER BY updated_at_ms"
        )


def decisions_between(db: Database, start_ms: int, end_ms: int) -> list[Row]:
    with db.read() as tx:
        return tx.all(
            "SELECT * FROM risk_decisions WHERE created_at_ms >= :a AND created_at_ms < :b"
            " ORDER BY created_at_ms, id",
            {"a": start_ms, "b": end_ms},
        )


def users_matching(db: Database, id_hashes: list[str], names: list[str]) -> list[Row]:
    """Users whose ID number (by its keyed hash) or name is on the watch list."""
    found: dict[str, Row] = {}
    with db.read() as tx:
        for i in range(0, len(id_hashes), 500):
            chunk = {f"h{k}": h for k, h in enumerate(id_hashes[i : i + 500])}
            marks = ", ".join(f":{k}" for k in chunk)
            for row in tx.all(
                f"SELECT id, name FROM users WHERE id_number_hash IN ({marks})", chunk
            ):
                found[str(row["id"])] = row
        for i in range(0, len(names), 500):
            chunk = {f"n{k}": n for k, n in enumerate(names[i : i + 500])}
            marks = ", ".join(f":{k}" for k in chunk)
            for row in tx.all(f"SELECT id, name FROM users WHERE name IN ({marks})", chunk):
                found.setdefault(str(row["id"]), row)
    return list(found.values())


def user_names(db: Database) -> list[Row]:
    with db.read() as tx:
        return tx.all("SELECT id, name FROM users")


# --- the detectors' stream (stream.py) --------------------------------------------------------
def moves_between(db: Database, start_ms: int, end_ms: int) -> list[Row]:
    """Passed movements (the decisions that let money move) with start_ms < created <= end_ms."""
    with db.read() as tx:
        return tx.all(
            "SELECT created_at_ms, party_id, payee_id, amount_fen, movement_kind"
            " FROM risk_decisions WHERE outcome = 'PASS' AND created_at_ms > :a"
            " AND created_at_ms <= :b ORDER BY created_at_ms",
            {"a": start_ms, "b": end_ms},
        )


def last_moves_before(db: Database, party_ids: list[str], before_ms: int) -> list[Row]:
    """Each party's last passed movement before ``before_ms`` (parties that never moved: none)."""
    rows: list[Row] = []
    with db.read() as tx:
        for i in range(0, len(party_ids), 500):
            chunk: dict[str, Any] = {f"p{k}": v for k, v in enumerate(party_ids[i : i + 500])}
            marks = ", ".join(f":{k}" for k in chunk)
            rows += tx.all(
                "SELECT party_id, MAX(created_at_ms) AS last_ms FROM risk_decisions"
                f" WHERE outcome = 'PASS' AND created_at_ms <= :t AND party_id IN ({marks})"
                " GROUP BY party_id",
                {**chunk, "t": before_ms},
            )
    return rows


def detector_marks(db: Database) -> dict[int, int]:
    with db.read() as tx:
        return {
            int(r["unit"]): int(r["last_ms"]) for r in tx.all("SELECT * FROM risk_detector_marks")
        }


def set_detector_mark(db: Database, unit: int, last_ms: int, now_ms: int) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO risk_detector_marks (unit, last_ms, updated_at_ms) VALUES (:u, :m, :now)"
            " ON CONFLICT (unit) DO UPDATE SET last_ms = excluded.last_ms,"
            " updated_at_ms = excluded.updated_at_ms",
            {"u": unit, "m": last_ms, "now": now_ms},
        )
