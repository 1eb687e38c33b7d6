"""AML: a watch-list hit on an ID number stops a payout and opens a case (a name-only hit adds a
score), the list survives a restart; the day's large-value and suspicious report files, each
line with the rules that selected it."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from qianbao.members import service as members
from qianbao.members.identity import make_id_number
from qianbao.money_movement.context import RequestContext, use
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.risk import service as risk
from qianbao.risk.errors import ListEntryInvalid, RiskRejected
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, card_of, new_user
from tests.trades.helpers import balance, new_merchant

HOME = RequestContext(device_id="phone-1", ip="10.0.0.1")


def _id_number_of(p, user_id: str) -> str:
    """The test factory's ID numbers are deterministic: find this user's by its hash."""
    from qianbao.risk.aml import id_hash

    target = members.get_user(p, user_id)["id_number_hash"]
    for n in range(1, 20_000):
        from datetime import date as d

        candidate = make_id_number(
            "110101", d(1970 + n // 1000 % 30, 1 + n % 12, 1 + n % 28), n % 1000
        )
        if id_hash(p, candidate) == target:
            return candidate
    raise AssertionError("not found")


def test_a_watch_list_hit_stops_payouts_opens_a_case_and_survives_a_restart(rp):
    u, v = new_user(rp, balance_fen=1_000_00), new_user(rp, balance_fen=1_000_00)
    id_number = _id_number_of(rp, u)
    out = risk.load_watchlist(rp, f"name,id_number\n某人,{id_number}\n", "op-aml")
    assert out["hits"] == [{"user_id": u, "match": "id"}]
    assert [c["party_id"] for c in risk.cases(rp) if c["source"] == "AML"] == [u]
    with use(HOME), pytest.raises(RiskRejected):
        payments.withdraw(rp, u, card_of(rp, u), 1_00, "w1", PAY_PASSWORD)
    with use(HOME), pytest.raises(RiskRejected):
        payments.transfer(rp, u, v, 1_00, "t1", PAY_PASSWORD)
    with use(HOME):
        payments.transfer(rp, v, u, 1_00, "t2", PAY_PASSWORD)  # v is not on the list
    rp.relay.drain()  # a transfer across units is credited by message
    assert balance(rp, u) == 1_000_00 + 1_00
    assert risk.watchlist_path(rp).exists()
    risk.engine(rp).load_watchlist(risk.aml.WatchList())  # as a fresh process would start...
    risk.restore_watchlist(rp)  # ...and find the operator's file
    with use(HOME), pytest.raises(RiskRejected):
        payments.withdraw(rp, u, card_of(rp, u), 1_00, "w2", PAY_PASSWORD)
    with pytest.raises(ListEntryInvalid):
        risk.load_watchlist(rp, "only-one-column\n", "op")
    assert_ledger_clean(rp)


def test_the_daily_reports_list_large_and_suspicious_movements_with_their_rules(rp):
    m, u = new_merchant(rp), new_user(rp, balance_fen=100_000_00)
    risk.put_list_entry(rp, "watch", "merchant", m, "complaints", "op")
    with use(HOME):
        payments.pay_merchant(rp, u, m, 1_00, "p1", PAY_PASSWORD)  # watched: suspicious
        risk.put_list_entry(rp, "allow", "user", u, "VIP", "op")
        payments.pay_merchant(rp, u, m, 50_000_00, "p2", PAY_PASSWORD)  # large value
    out = risk.daily_reports(rp, clock.today())
    assert out["large_value"]["lines"] == 2  # the 100,000.00 top-up and the payment
    large = list(csv.DictReader(io.StringIO(Path(out["large_value"]["path"]).read_text())))
    (paid,) = [line for line in large if line["movement_kind"] == "PAY"]
    assert paid["amount_fen"] == "5000000" and paid["selected_by"] == "amount_fen>=5000000"
    suspicious = list(csv.DictReader(io.StringIO(Path(out["suspicious"]["path"]).read_text())))
    assert any("watch_list" in line["reasons"] for line in suspicious)
    assert risk.report_file(rp, clock.today(), "suspicious").exists()
    empty = risk.daily_reports(rp, date(2020, 1, 1))
    assert empty["large_value"]["lines"] == 0 == empty["suspicious"]["lines"]
