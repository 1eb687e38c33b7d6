"""A decision as it is stored: its row (``risk_decisions``) and its inputs, written compactly
on the writer's thread and decoded when a decision is looked up.

The inputs (format 2) keep what the row's own columns do not: the request context, the
movement's merchant, funding, category and card, the features — the model's exact inputs, as
little-endian doubles in hex (one ``struct`` call, several times cheaper than formatting 37
numbers) — and the model's probability. ``inputs`` rebuilds the full picture (the movement,
the context, the counters' event, the features, the probability) from the row; rows written
before format 2 (whole JSON, features rounded to 4 decimals) read as they were.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from typing import Any

from qianbao.money_movement.ports import Movement
from qianbao.risk.counters import Event
from qianbao.risk.decide import Decision, Reason

FORMAT = 2
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_q = json.encoder.encode_basestring  # a JSON string as ``ensure_ascii=False`` writes it
_PACKERS: dict[int, struct.Struct] = {}  # how many features -> their packer


def _packer(n: int) -> struct.Struct:
    packer = _PACKERS.get(n)
    if packer is None:
        packer = _PACKERS[n] = struct.Struct(f"<{n}d")
    return packer


def features_hex(x: tuple[float, ...]) -> str:
    """The features exactly, as hex of little-endian doubles."""
    return _packer(len(x)).pack(*x).hex()


def features_of_hex(text: str) -> list[float]:
    raw = bytes.fromhex(text)
    return list(_packer(len(raw) // 8).unpack(raw))


def inputs_json(m: Movement, rc_json: str, d: Decision) -> str:
    """A decision's inputs (format 2: what the row's columns do not hold) as JSON."""
    return (
        f'{{"v":2,"context":{rc_json},"merchant_id":{_q(m.merchant_id)},'
        f'"funding":{_q(m.funding)},"category":{_q(m.category)},"card_id":{_q(m.card_id)},'
        f'"features":"{features_hex(d.features)}","model_p":{_number(round(d.model_p, 4))}}}'
    )


def _number(v: float) -> str:
    return repr(v) if math.isfinite(v) else _JSON(v)


REASONS_KEPT_MAX = 4096  # distinct reasons whose JSON is kept (then it starts again)
_reasons: dict[Reason, str] = {}


def reasons_json(reasons: tuple[Reason, ...]) -> str:
    """``[{rule, score, detail}, ...]`` as JSON (each reason's made once: the same come again
    and again, an allow-listed merchant's with every payment, a burst's count)."""
    if not reasons:
        return "[]"
    items = []
    for r in reasons:
        item = _reasons.get(r)
        if item is None:
            if len(_reasons) >= REASONS_KEPT_MAX:
                _reasons.clear()
            rule, score, detail = _q(r.rule), int(r.score), _q(r.detail)
            item = _reasons[r] = f'{{"rule":{rule},"score":{score},"detail":{detail}}}'
        items.append(item)
    return f"[{','.join(items)}]"


def inputs(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored decision's inputs: the movement, its request context, the counters' event,
    the features and the model's probability (and a shadow's outcome, when it differed)."""
    data: dict[str, Any] = json.loads(row["inputs"])
    if data.get("v") != FORMAT:
        return data  # written whole, before format 2
    del data["v"]
    context = data.pop("context")
    merchant_id = data.pop("merchant_id")
    movement = {
        "kind": row["movement_kind"],
        "amount_fen": int(row["amount_fen"]),
        "payee_id": row["payee_id"],
        "merchant_id": merchant_id,
        "funding": data.pop("funding"),
        "category": data.pop("category"),
        "card_id": data.pop("card_id"),
    }
    return {
        "movement": movement,
        "context": context,
        "event": event(row, context, merchant_id).as_list(),
        "features": features_of_hex(data.pop("features")),
        **data,  # model_p, and shadow when there is one
    }


def event(row: Mapping[str, Any], context: Mapping[str, str], merchant_id: str) -> Event:
    """The counters' event of a stored PASS (format 2 rebuilds it from the row)."""
    return Event(
        int(row["created_at_ms"]),
        int(row["amount_fen"]),
        str(row["movement_kind"]),
        str(row["party_id"]),
        str(row["payee_id"]),
        str(context.get("device_id", "")),
        str(context.get("ip", "")),
        merchant_id,
    )


def stored_event(row: Mapping[str, Any]) -> Event:
    """The event a stored PASS counts as (at start, the decisions since the last snapshot)."""
    data = json.loads(row["inputs"])
    if data.get("v") != FORMAT:
        return Event.from_list(data["event"])
    return event(row, data["context"], str(data["merchant_id"]))
