"""Rules as data: a YAML file, versioned, reloaded without a restart.

A rule set names its ``version``, the outcome thresholds (a decision's score at or above
``challenge_at`` is a CHALLENGE, at or above ``reject_at`` a REJECT), and its rules; each rule
that fires adds its ``score`` and its reason. Kinds:

- ``threshold``: the amount is at least ``at_least_fen``;
- ``velocity``: over a sliding window of ``window_s`` per ``key`` (user, device, ip, payee,
  merchant), the ``measure`` (count, sum, distinct ``of`` another dimension), this movement
  included, is above ``above``;
- ``new_device`` / ``new_ip``: a user with history uses one never seen for them, and the amount
  is at least ``min_amount_fen``;
- ``location_jump``: the implied speed from the user's last located movement is above
  ``max_kmh`` (and they are at least ``min_km`` apart);
- ``list``: the user, device, card, IP or merchant is on the ``block``, ``watch`` or ``allow``
  list (``block`` rejects whatever the score, ``allow`` passes unless blocked or frozen);
- ``category_mismatch``: the merchant's registered category is in ``categories`` for a
  movement funded by one of ``funding`` (Huabei at a cash-like merchant), or the payment says
  ``medical`` at a merchant that is not;
- ``model``: the model's fraud probability is at least ``at_least`` (a number, or
  ``operating_point``: the threshold chosen when the model was trained, see ``evaluate.train``);
  with ``clients_only: true`` it judges only movements a client asked for (a request context with
  an IP: every API and gateway request has one), not the platform's own calls (jobs, scripts).

Every rule may be limited to movement ``kinds`` (which movements it judges; a velocity window
still counts every movement of its key, top-ups included). A bad file is refused whole (the old set
stays in force) with the reason.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qianbao.risk.counters import DIMENSIONS
from qianbao.risk.errors import RulesInvalid
from qianbao.risk.features import PAYEE_WINDOW_MS

DEFAULT_PATH = Path(__file__).with_name("rules.yaml")
LISTS = ("block", "watch", "allow")
LIST_KINDS = ("user", "device", "card", "ip", "merchant")
MEASURES = ("count", "sum", "distinct")
CHECK_EVERY_S = 1.0  # the file's mtime is looked at no more often than this


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: str
    score: int
    kinds: frozenset[str] = frozenset()  # movement kinds it applies to (empty: all)
    params: dict[str, Any] = field(default_factory=dict)

    def applies(self, movement_kind: str) -> bool:
        return not self.kinds or movement_kind in self.kinds

    def p(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    challenge_at: int
    reject_at: int
    rules: tuple[Rule, ...]
    refund_approval_fen: int = 0  # refunds at or above need two operators (0: never)
    challenge_ttl_s: int = 300
    challenge_attempts: int = 3
    snapshot_every_s: int = 60
    # movement kind -> its rules compiled (``decide.plan``): made once per rule set, on first use
    plans: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def horizon_ms(self) -> int:
        """The longest velocity window or feature window (the counters keep this much)."""
        windows = [int(r.p("window_s")) * 1000 for r in self.rules if r.kind == "velocity"]
        return max([86_400_000, PAYEE_WINDOW_MS, *windows])

    def summary(self) -> list[dict[str, Any]]:
        return [{"id": r.id, "kind": r.kind, "score": r.score, **r.params} for r in self.rules]


def _need(data: dict[str, Any], name: str, kind: Callable[[Any], Any], where: str) -> Any:
    if name not in data:
        raise RulesInvalid(f"{where}: {name} is missing")
    try:
        return kind(data[name])
    except (TypeError, ValueError):
        raise RulesInvalid(f"{where}: {name} is not a valid {kind.__name__}") from None


def _one_of(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise RulesInvalid(f"{where}: {value!r} is not one of {allowed}")
    return str(value)


def _params(kind: str, data: dict[str, Any], where: str) -> dict[str, Any]:
    """Each kind's parameters, checked."""
    if kind == "threshold":
        return {"at_least_fen": _need(data, "at_least_fen", int, where)}
    if kind == "velocity":
        params = {
            "key": _one_of(data.get("key"), DIMENSIONS, where),
            "window_s": _need(data, "window_s", int, where),
            "measure": _one_of(data.get("measure", "count"), MEASURES, where),
            "above": _need(data, "above", int, where),
        }
        if params["measure"] == "distinct":
            params["of"] = _one_of(data.get("of"), DIMENSIONS, where)
        if not 0 < params["window_s"] <= 31 * 86_400:
            raise RulesInvalid(f"{where}: window_s must be 1 s to 31 days")
        return params
    if kind in ("new_device", "new_ip"):
        return {"min_amount_fen": int(data.get("min_amount_fen", 0))}
    if kind == "location_jump":
        return {
            "max_kmh": _need(data, "max_kmh", float, where),
            "min_km": float(data.get("min_km", 50)),
        }
    if kind == "list":
        return {
            "list": _one_of(data.get("list"), LISTS, where),
            "of": tuple(_one_of(k, LIST_KINDS, where) for k in data.get("of", LIST_KINDS)),
        }
    if kind == "category_mismatch":
        return {
            "categories": frozenset(str(c) for c in data.get("categories", ())),
            "funding": frozenset(str(f) for f in data.get("funding", ())),
        }
    if kind == "model":  # a probability, or the trained model's own operating point
        clients_only = bool(data.get("clients_only", False))
        if data.get("at_least") == "operating_point":
            return {"at_least": "operating_point", "clients_only": clients_only}
        return {"at_least": _need(data, "at_least", float, where), "clients_only": clients_only}
    raise RulesInvalid(f"{where}: unknown rule kind {kind!r}")


def parse(data: Any) -> RuleSet:
    if not isinstance(data, dict):
        raise RulesInvalid("a rule set is a mapping")
    rules = []
    seen: set[str] = set()
    for i, item in enumerate(data.get("rules") or []):
        where = f"rules[{i}]"
        if not isinstance(item, dict):
            raise RulesInvalid(f"{where}: a rule is a mapping")
        rule_id = str(_need(item, "id", str, where))
        if rule_id in seen:
            raise RulesInvalid(f"{where}: id {rule_id!r} is used twice")
        seen.add(rule_id)
        kind = str(_need(item, "kind", str, where))
        rules.append(
            Rule(
                id=rule_id,
                kind=kind,
                score=_need(item, "score", int, where),
                kinds=frozenset(str(k) for k in item.get("kinds", ())),
                params=_params(kind, item, f"{where} ({rule_id})"),
            )
        )
    outcome = data.get("outcome") or {}
    rs = RuleSet(
        version=str(_need(data, "version", str, "rule set")),
        challenge_at=_need(outcome, "challenge_at", int, "outcome"),
        reject_at=_need(outcome, "reject_at", int, "outcome"),
        rules=tuple(rules),
        refund_approval_fen=int(data.get("refund_approval_fen", 0)),
        challenge_ttl_s=int(data.get("challenge_ttl_s", 300)),
        challenge_attempts=int(data.get("challenge_attempts", 3)),
        snapshot_every_s=int(data.get("snapshot_every_s", 60)),
    )
    if not 0 < rs.challenge_at <= rs.reject_at:
        raise RulesInvalid("outcome: 0 < challenge_at <= reject_at")
    return rs


def load(path: Path) -> RuleSet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesInvalid(f"cannot read {path}: {exc}") from None
    try:
        return parse(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise RulesInvalid(f"{path} is not valid YAML: {exc}") from None


class RuleFile:
    """The rule set in force, re-read when its file changes (checked at most once a second on
    the decision path) or when an operator asks (``reload``). A broken file keeps the last good
    set and records why (``error``)."""

    def __init__(self, path: Path = DEFAULT_PATH) -> None:
        self.path = path
        self.current = load(path)
        self.mtime_ns = self._mtime()
        self.checked_at = time.monotonic()
        self.error = ""
        self._lock = threading.Lock()

    def _mtime(self) -> int:
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return 0

    def get(self) -> RuleSet:
        now = time.monotonic()
        if now - self.checked_at >= CHECK_EVERY_S:
            self.checked_at = now
            if self._mtime() != self.mtime_ns:
                self.reload(strict=False)
        return self.current

    def reload(self, *, strict: bool = True) -> RuleSet:
        with self._lock:
            mtime = self._mtime()
            try:
                self.current = load(self.path)
                self.error = ""
            except RulesInvalid as exc:
                self.error = exc.message
                if strict:
                    raise
            finally:
                self.mtime_ns = mtime
        return self.current


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine), in km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def parse_location(text: str) -> tuple[float, float] | None:
    """``"lat,lon"`` in degrees, or None when absent or malformed."""
    if not text:
        return None
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat + lon):
        return None
    return lat, lon
