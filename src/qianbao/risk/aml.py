"""Anti-money-laundering: watch-list screening and the daily regulatory report files.

Watch list: a CSV file the operator loads (``name,id_number`` a line; a header line is
skipped). ID numbers are kept only as the same keyed hash members uses, so the list is matched
against users without ever storing a clear ID number. Screening runs before every payout and
transfer (the risk check: an ID-number hit rejects, a name-only hit adds the ``aml_name``
score, since names collide) and over every existing user when a list is loaded (each hit opens
a case). Registration screening is the same ``screen_user`` call, for the members package to
make through a port (not wired yet).

Reports (大额 / 可疑交易报告): for a business day, two CSV files under
``<data_dir>/reports/risk/``: large-value movements (at or above ``large_value_fen``), and
suspicious ones (refused, challenged, or scored at or above ``suspicious_score``), each line
with the rules that selected it.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from qianbao.members import service as members
from qianbao.platform.clock import start_of_day_ms
from qianbao.platform.runtime import Platform
from qianbao.risk import store
from qianbao.risk.errors import ListEntryInvalid

LARGE_VALUE_FEN = 5_000_000  # 50,000.00 CNY and more: a large-value line
SUSPICIOUS_SCORE = 30
WATCHLIST_MAX = 200_000
COLUMNS = (
    "decision_id",
    "created_at_ms",
    "movement_kind",
    "movement_id",
    "party_id",
    "payee_id",
    "amount_fen",
    "outcome",
    "score",
    "selected_by",
    "reasons",
)


@dataclass
class WatchList:
    id_hashes: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    source: str = ""

    def match(self, id_number_hash: str, name: str) -> str:
        """ "id" for an ID-number hit, "name" for a name-only one, "" for none."""
        if id_number_hash in self.id_hashes:
            return "id"
        return "name" if _norm(name) in self.names else ""


def _norm(name: str) -> str:
    return "".join(name.split()).lower()


def id_hash(p: Platform, id_number: str) -> str:
    """The keyed hash members stores for an ID number."""
    key = p.settings.secret_key.encode()
    return hmac.new(key, id_number.strip().upper().encode(), hashlib.sha256).hexdigest()


def parse_watchlist(p: Platform, text: str, source: str) -> WatchList:
    wl = WatchList(source=source)
    for i, row in enumerate(csv.reader(io.StringIO(text))):
        if not row or (i == 0 and row[0].strip().lower() in ("name", "姓名")):
            continue
        if len(row) < 2 or not (row[0].strip() or row[1].strip()):
            raise ListEntryInvalid(f"watch list line {i + 1}: name,id_number")
        if row[0].strip():
            wl.names.add(_norm(row[0]))
        if row[1].strip():
            wl.id_hashes.add(id_hash(p, row[1]))
        if len(wl.names) + len(wl.id_hashes) > WATCHLIST_MAX:
            raise ListEntryInvalid(f"a watch list has at most {WATCHLIST_MAX} entries")
    return wl


def screen_user(p: Platform, wl: WatchList, user_id: str) -> str:
    user = members.get_user_cached(p, user_id)
    return wl.match(str(user["id_number_hash"]), str(user["name"]))


def screen_all(p: Platform, wl: WatchList) -> list[dict[str, Any]]:
    """Every existing user against the list: the hits (id or name)."""
    rows = store.users_matching(p.global_db, sorted(wl.id_hashes), [])
    hits = [{"user_id": str(r["id"]), "match": "id"} for r in rows]
    seen = {h["user_id"] for h in hits}
    for r in store.user_names(p.global_db) if wl.names else []:
        if str(r["id"]) not in seen and _norm(str(r["name"])) in wl.names:
            hits.append({"user_id": str(r["id"]), "match": "name"})
    return hits


# --- the daily reports ----------------------------------------------------------------------
def _selected(row: Any, large_value_fen: int, suspicious_score: int) -> tuple[bool, bool]:
    large = row["outcome"] == "PASS" and int(row["amount_fen"]) >= large_value_fen
    suspicious = row["outcome"] != "PASS" or int(row["score"]) >= suspicious_score
    return large, suspicious


def daily_reports(
    p: Platform,
    day: date,
    *,
    large_value_fen: int = LARGE_VALUE_FEN,
    suspicious_score: int = SUSPICIOUS_SCORE,
) -> dict[str, Any]:
    """Write the day's two report files; returns their paths and line counts."""
    start, end = start_of_day_ms(day), start_of_day_ms(day + timedelta(days=1))
    large_rows: list[list[Any]] = []
    suspicious_rows: list[list[Any]] = []
    for db in p.units:
        for row in store.decisions_between(db, start, end):
            large, suspicious = _selected(row, large_value_fen, suspicious_score)
            reasons = [r["rule"] for r in json.loads(row["reasons"])]
            base = [row["id"], *(row[c] for c in COLUMNS[1:9])]
            if large:
                large_rows.append([*base, f"amount_fen>={large_value_fen}", ";".join(reasons)])
            if suspicious:
                why = (
                    f"outcome={row['outcome']}"
                    if row["outcome"] != "PASS"
                    else (f"score>={suspicious_score}")
                )
                suspicious_rows.append([*base, why, ";".join(reasons)])
    folder = p.settings.data_dir / "reports" / "risk"
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"day": day.isoformat()}
    files: list[tuple[str, list[list[Any]]]] = [
        ("large_value", large_rows),
        ("suspicious", suspicious_rows),
    ]
    for kind, rows in files:
        path = folder / f"{day.isoformat()}-{kind}.csv"
        _write_csv(path, rows)
        out[kind] = {"path": str(path), "lines": len(rows)}
    return out


def _line_order(row: list[Any]) -> tuple[int, str]:
    return int(row[1]), str(row[0])


def _write_csv(path: Path, rows: list[list[Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        ordered: list[list[Any]] = sorted(rows, key=_line_order)
        writer.writerows(ordered)
    tmp.replace(path)


def report_path(p: Platform, day: date, kind: str) -> Path:
    if kind not in ("large_value", "suspicious"):
        raise ListEntryInvalid("a report is large_value or suspicious")
    return p.settings.data_dir / "reports" / "risk" / f"{day.isoformat()}-{kind}.csv"
