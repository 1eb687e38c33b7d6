"""A bucket move in the distributed mode: each unit in its own platform behind its own HTTP
endpoint (PostgreSQL database per unit), the move run from an access-layer platform that owns
no unit, so every one of its writer commands travels to the unit's process (ADR 0935)."""

from __future__ import annotations

import pytest

from qianbao.cluster.buckets import move
from qianbao.ledger.service import check_platform
from qianbao.payments import service as payments
from qianbao.platform import route_store
from qianbao.platform.ids import bucket_of
from tests.cluster.test_distributed_paths import Deployment, _login, deployment  # noqa: F401

pytestmark = pytest.mark.postgres


def test_a_bucket_moves_between_unit_processes(deployment: Deployment) -> None:  # noqa: F811
    d, p = deployment, deployment.access.p
    a, _, c = d.seed["users"]
    bucket = bucket_of(a)
    assert p.owned_units == () and p.unit_of(a) == 0
    ha = _login(d, 0)
    pay = {"merchant_id": d.seed["merchant"], "amount_fen": 700, "request_id": "mv-pay-1"}
    first = d.http.post("/api/v1/payments", json=pay, headers=ha)
    assert first.status_code == 200, first.text
    before = payments.balance(p, a)["balance_fen"]
    done = move.run(p, bucket, 1)
    assert done["status"] == "RETIRED", done
    assert p.unit_of(a) == 1 and route_store.latest(p.global_db).routes[bucket] == 1  # type: ignore[union-attr]
    for unit in d.units:  # the unit processes read the same version
        route_store.refresh(unit.p)
        assert unit.p.routes[bucket] == 1
    assert payments.balance(p, a)["balance_fen"] == before
    again = d.http.post("/api/v1/payments", json=pay, headers=ha)  # the key moved: same answer
    assert again.status_code == 200 and again.json() == first.json()
    more = d.http.post("/api/v1/payments", json={**pay, "request_id": "mv-pay-2"}, headers=ha)
    assert more.status_code == 200, more.text
    transfer = {"to_user_id": c, "amount_fen": 300, "request_id": "mv-t-1"}
    sent = d.http.post("/api/v1/transfers", json=transfer, headers=ha)
    assert sent.status_code == 200, sent.text
    assert payments.balance(p, a)["balance_fen"] == before - 700 - 300
    for unit in d.units:
        unit.p.relay.drain()
    result = check_platform(p)
    assert result.ok, result.units
