"""A decision on every money movement, on a real platform: stored with its inputs and versions in
the movement's batch, a refusal stored too and moving no money, challenges answered, wrong and
expired, freezes, the second operator on a large refund, reload without restart."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from qianbao.members.errors import WrongPayPassword
from qianbao.money_movement.context import RequestContext, use
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.risk import service as risk
from qianbao.risk.errors import (
    ApprovalRequired,
    ChallengeClosed,
    ChallengeExpired,
    ChallengeFailed,
    ChallengeNotFound,
    ChallengeRequired,
    ChallengeWrongMethod,
    PartyFrozen,
    RiskRejected,
    RulesInvalid,
    SameOperator,
)
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, card_of, new_user
from tests.risk.conftest import RULES, write_rules
from tests.trades.helpers import balance, merchant_fen, new_merchant

HOME = RequestContext(device_id="phone-1", ip="10.0.0.1", location="31.23,121.47")  # Shanghai


def _pay(p, u, m, amount_fen, key, rc=HOME):
    with use(rc):
        return payments.pay_merchant(p, u, m, amount_fen, key, PAY_PASSWORD)


def test_a_pass_is_stored_with_its_inputs_and_versions_and_a_replay_decides_nothing(rp):
    m, u = new_merchant(rp), new_user(rp, balance_fen=10_000_00)
    paid = _pay(rp, u, m, 12_34, "k1")
    again = _pay(rp, u, m, 12_34, "k1")
    assert again["id"] == paid["id"]
    (d,) = risk.decisions(rp, movement_id=paid["id"])
    assert d["outcome"] == "PASS" and d["rules_version"] == "t-1" and d["model_version"]
    shown = risk.public_decision(d)
    assert shown["inputs"]["context"]["device_id"] == "phone-1"
    assert shown["inputs"]["movement"]["amount_fen"] == 12_34
    assert balance(rp, u) == 10_000_00 - 12_34
    assert_ledger_clean(rp)


def test_a_blocked_device_is_rejected_stored_moves_no_money_and_opens_a_case(rp):
    m, u = new_merchant(rp), new_user(rp, balance_fen=1_000_00)
    risk.put_list_entry(rp, "block", "device", "stolen-1", "reported stolen", "op")
    rc = RequestContext(device_id="stolen-1", ip="10.9.9.9")
    with pytest.raises(RiskRejected) as caught:
        _pay(rp, u, m, 10_00, "b1", rc)
    assert balance(rp, u) == 1_000_00 and merchant_fen(rp, m) == 0
    (d,) = [d for d in risk.decisions(rp, party_id=u) if d["movement_kind"] == "PAY"]
    assert d["outcome"] == "REJECT" and d["id"] == caught.value.details["decision_id"]
    assert "list:block" in d["reasons"]
    assert [c["decision_id"] for c in risk.cases(rp)] == [d["id"]]
    with pytest.raises(RiskRejected):  # the same key again: refused again, nothing claimed
        _pay(rp, u, m, 10_00, "b1", rc)
    assert_ledger_clean(rp)


def test_a_challenge_answered_in_time_completes_the_payment(rp):
    m, u = new_merchant(rp), new_user(rp, balance_fen=100_000_00)
    with pytest.raises(ChallengeRequired) as caught:
        _pay(rp, u, m, 6_000_00, "c1")
    challenge_id = caught.value.details["challenge_id"]
    assert balance(rp, u) == 100_000_00  # held: nothing moved
    with pytest.raises(ChallengeRequired) as retried:  # the same request again: the same answer
        _pay(rp, u, m, 6_000_00, "c1")
    assert retried.value.details["challenge_id"] == challenge_id
    with pytest.raises(WrongPayPassword):
        risk.answer_password(rp, u, challenge_id, "000000")
    paid = risk.answer_password(rp, u, challenge_id, PAY_PASSWORD)
    assert balance(rp, u) == 100_000_00 - 6_000_00
    outcomes = sorted(d["outcome"] for d in risk.decisions(rp, movement_id=paid["id"]))
    assert outcomes == ["CHALLENGE", "PASS"]
    with pytest.raises(ChallengeClosed):
        risk.answer_password(rp, u, challenge_id, PAY_PASSWORD)
    assert_ledger_clean(rp)


def test_a_challenge_answered_wrong_too_often_or_too_late_moves_nothing(rp):
    m, u = new_merchant(rp), new_user(rp, balance_fen=100_000_00)
    other = new_user(rp)
    with pytest.raises(ChallengeRequired) as first:
        _pay(rp, u, m, 6_000_00, "w1")
    wrong = first.value.details["challenge_id"]
    with pytest.raises(ChallengeNotFound):  # not the payer's
        risk.answer_password(rp, other, wrong, PAY_PASSWORD)
    with pytest.raises(WrongPayPassword):
        risk.answer_password(rp, u, wrong, "000000")
    with pytest.raises(ChallengeFailed):
        risk.answer_password(rp, u, wrong, "000001")
    with pytest.raises(ChallengeClosed):
        risk.answer_password(rp, u, wrong, PAY_PASSWORD)
    with pytest.raises(ChallengeRequired) as second:
        _pay(rp, u, m, 6_000_00, "w2")
    clock.set(clock.now() + timedelta(seconds=61))
    with pytest.raises(ChallengeExpired):
        risk.answer_password(rp, u, second.value.details["challenge_id"], PAY_PASSWORD)
    assert balance(rp, u) == 100_000_00 and merchant_fen(rp, m) == 0
    assert_ledger_clean(rp)


def test_freezes_stop_every_movement_of_the_party_and_balances_stay(rp):
    m, u, v = new_merchant(rp), new_user(rp, balance_fen=1_000_00), new_user(rp)
    risk.freeze(rp, "USER", u, "account takeover suspected", "op-1")
    with pytest.raises(PartyFrozen):
        _pay(rp, u, m, 1_00, "f1")
    with use(HOME), pytest.raises(PartyFrozen):
        payments.transfer(rp, u, v, 1_00, "f2", PAY_PASSWORD)
    with use(HOME), pytest.raises(PartyFrozen):
        payments.withdraw(rp, u, card_of(rp, u), 1_00, "f3", PAY_PASSWORD)
    assert balance(rp, u) == 1_000_00
    [f] = risk.freezes(rp)
    assert (f["operator"], f["reason"]) == ("op-1", "account takeover suspected")
    risk.unfreeze(rp, "USER", u, "customer verified", "op-2")
    _pay(rp, u, m, 1_00, "f4")
    risk.freeze(rp, "MERCHANT", m, "fake trades", "op-1")
    with pytest.raises(PartyFrozen):
        _pay(rp, u, m, 1_00, "f5")
    risk.unfreeze(rp, "MERCHANT", m, "cleared", "op-1")
    risk.freeze(rp, "CARD", card_of(rp, u), "card reported lost", "op-1")
    with use(HOME), pytest.raises(PartyFrozen):
        payments.withdraw(rp, u, card_of(rp, u), 1_00, "f6", PAY_PASSWORD)
    assert balance(rp, u) == 1_000_00 - 1_00
    assert_ledger_clean(rp)


def test_transfers_and_withdrawals_are_decided_too(rp):
    u, v = new_user(rp, balance_fen=1_000_00), new_user(rp)
    risk.put_list_entry(rp, "block", "user", v, "mule", "op")
    with use(HOME), pytest.raises(RiskRejected):
        payments.transfer(rp, u, v, 5_00, "t1", PAY_PASSWORD)
    with use(HOME):
        order = payments.withdraw(rp, u, card_of(rp, u), 2_00, "t2", PAY_PASSWORD)
    kinds = {d["movement_kind"]: d["outcome"] for d in risk.decisions(rp, party_id=u)}
    assert kinds["TRANSFER"] == "REJECT" and kinds["WITHDRAW"] == "PASS"
    assert order["status"] == "SUCCEEDED"
    assert balance(rp, v) == 0
    assert_ledger_clean(rp)


def test_a_large_refund_needs_two_different_operators(rp):
    m, u = new_merchant(rp), new_user(rp, balance_fen=100_000_00)
    risk.put_list_entry(rp, "allow", "user", u, "VIP", "op")  # the payment itself passes
    paid = _pay(rp, u, m, 2_000_00, "r1")
    with pytest.raises(ApprovalRequired) as caught:
        payments.refund(rp, m, paid["id"], 1_500_00, "rf1")
    challenge_id = caught.value.details["challenge_id"]
    assert balance(rp, u) == 100_000_00 - 2_000_00
    first = risk.approve(rp, "alice", challenge_id)
    assert first["result"] is None and first["approvals"] == ["alice"]
    with pytest.raises(SameOperator):
        risk.approve(rp, "alice", challenge_id)
    done = risk.approve(rp, "bob", challenge_id)
    assert done["result"]["amount_fen"] == 1_500_00
    assert balance(rp, u) == 100_000_00 - 2_000_00 + 1_500_00
    payments.refund(rp, m, paid["id"], 10_00, "rf2")  # a small one needs nobody
    assert_ledger_clean(rp)


def test_velocity_counts_committed_movements_and_survives_a_restart(tmp_path):
    from tests.conftest import make_platform

    rules = write_rules(tmp_path / "rules.yaml")
    extra = {"risk": {"rules_path": str(rules)}}
    p = make_platform("sqlite", tmp_path / "data", extra=extra)
    try:
        m, u = new_merchant(p), new_user(p, balance_fen=1_000_00)
        for i in range(3):
            clock.set(clock.now() + timedelta(seconds=2))  # a snapshot delta every second
            _pay(p, u, m, 1_00, f"v{i}")
        with p.units[p.unit_of(u)].read() as tx:
            snapshots = tx.all("SELECT body FROM risk_snapshots")
        assert snapshots  # the deltas written with the batches (the rest: the decisions)
    finally:
        p.close()
    p = make_platform("sqlite", tmp_path / "data", extra=extra)  # counters rebuilt from the unit
    try:
        unit = risk.engine(p).units[p.unit_of(u)]
        assert unit.loaded  # as the unit started, not in the first payment's batch
        assert unit.state.counters.log("user", u).window(clock.now_ms(), 60_000).count == 4
        with pytest.raises(RiskRejected):
            _pay(p, u, m, 1_00, "v3")  # the 5th movement (a top-up, 4 payments) in a minute
        state = risk.engine(p).units[p.unit_of(u)].state
        assert state.counters.log("user", u).window(clock.now_ms(), 60_000).count == 4
    finally:
        clock.use_real_time()
        p.close()


def test_rules_reload_without_a_restart_and_a_broken_file_keeps_the_last_good_set(rp, tmp_path):
    m, u = new_merchant(rp), new_user(rp, balance_fen=1_000_00)
    path = tmp_path / "rules.yaml"
    lower = RULES.replace('"t-1"', '"t-2"').replace("at_least_fen: 500000", "at_least_fen: 100")
    write_rules(path, lower)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert risk.engine(rp).rules.reload().version == "t-2"
    with pytest.raises(ChallengeRequired):
        _pay(rp, u, m, 2_00, "l1")
    path.write_text("version: [broken", encoding="utf-8")
    with pytest.raises(RulesInvalid):
        risk.engine(rp).rules.reload()
    assert risk.engine(rp).rules.current.version == "t-2"
    assert risk.engine(rp).rules.error


def test_the_shipped_rules_and_model_stop_a_takeover_drain_and_pass_the_owner(tmp_path):
    from tests.conftest import make_platform

    p = make_platform("sqlite", tmp_path / "data", extra={"risk": {}})  # shipped rules + model
    try:
        assert risk.engine(p).model.trees  # the trained model is on
        m, u, friend = new_merchant(p), new_user(p, balance_fen=50_000_00), new_user(p)
        for i in range(3):
            _pay(p, u, m, 35_00 + i, f"own{i}")  # the owner, on their phone, at home
        with use(HOME):
            payments.transfer(p, u, friend, 200_00, "own-t", PAY_PASSWORD)
        thief = RequestContext(device_id="unknown-9", ip="203.0.113.50", location="43.83,87.62")
        mule = new_user(p)
        with use(thief), pytest.raises((ChallengeRequired, RiskRejected)):
            payments.transfer(p, u, mule, 30_000_00, "drain", PAY_PASSWORD)
        assert balance(p, mule) == 0
        assert_ledger_clean(p)
    finally:
        p.close()


def test_shadow_mode_reports_what_a_candidate_would_decide_and_changes_nothing(tmp_path):
    from tests.conftest import make_platform

    live = write_rules(tmp_path / "live.yaml")
    candidate = write_rules(
        tmp_path / "candidate.yaml",
        RULES.replace('"t-1"', '"cand-1"').replace("at_least_fen: 500000", "at_least_fen: 1000"),
    )
    extra = {"risk": {"rules_path": str(live), "shadow_rules_path": str(candidate)}}
    p = make_platform("sqlite", tmp_path / "data", extra=extra)
    try:
        m, u = new_merchant(p), new_user(p, balance_fen=1_000_00)
        paid = _pay(p, u, m, 20_00, "s1")  # live: PASS; the candidate would challenge it
        _pay(p, u, m, 1_00, "s2")  # both: PASS
        report = risk.engine(p).shadow.report()
        assert report["rules_version"] == "cand-1" and report["differ"] == 1
        assert report["by_outcome"] == [{"live": "PASS", "shadow": "CHALLENGE", "count": 1}]
        (d,) = risk.decisions(p, movement_id=paid["id"])
        assert d["outcome"] == "PASS"
        assert risk.public_decision(d)["inputs"]["shadow"]["outcome"] == "CHALLENGE"
        assert balance(p, u) == 1_000_00 - 21_00
    finally:
        p.close()


def test_a_challenge_answered_with_a_one_time_code_by_sms(rp):
    import re

    from qianbao.notices import delivery
    from qianbao.notices import service as notices
    from qianbao.risk.errors import ChallengeCodeWrong

    m, u = new_merchant(rp), new_user(rp, balance_fen=100_000_00)
    with pytest.raises(ChallengeRequired) as caught:
        _pay(rp, u, m, 6_000_00, "otp1")
    challenge_id = caught.value.details["challenge_id"]
    with pytest.raises(ChallengeWrongMethod):  # no code asked for yet
        risk.answer_code(rp, u, challenge_id, "123456")
    assert risk.send_code(rp, u, challenge_id)["code_sent"] is True
    delivery.deliver_due(rp)
    body = notices.delivery_log(rp, u, "otp", reveal=True)[-1]["body"]
    code = re.search(r"\b(\d{6})\b", body).group(1)
    assert "交易验证" in body
    with pytest.raises(ChallengeCodeWrong):
        risk.answer_code(rp, u, challenge_id, "000000" if code != "000000" else "111111")
    paid = risk.answer_code(rp, u, challenge_id, code)
    assert paid["amount_fen"] == 6_000_00
    assert balance(rp, u) == 100_000_00 - 6_000_00
    assert_ledger_clean(rp)


def test_a_frozen_wallet_cannot_send_a_red_packet(rp):
    from qianbao.redpackets import service as redpackets

    u, v = new_user(rp, balance_fen=1_000_00), new_user(rp)
    risk.freeze(rp, "USER", u, "mule", "op-1")
    with pytest.raises(PartyFrozen):
        redpackets.send(
            rp,
            u,
            kind="PERSONAL",
            amount_fen=10_00,
            recipient_id=v,
            request_id="rp1",
            pay_password=PAY_PASSWORD,
        )
    assert balance(rp, u) == 1_000_00
    kinds = [d["movement_kind"] for d in risk.decisions(rp, party_id=u)]
    assert "RED_PACKET" in kinds
    assert_ledger_clean(rp)


def test_a_replay_after_a_restart_answers_the_first_result_even_if_risk_would_now_refuse(tmp_path):
    from tests.conftest import make_platform

    rules = write_rules(tmp_path / "rules.yaml")
    extra = {"risk": {"rules_path": str(rules)}}
    p = make_platform("sqlite", tmp_path / "data", extra=extra)
    try:
        m, u = new_merchant(p), new_user(p, balance_fen=1_000_00)
        first = _pay(p, u, m, 12_00, "same-key")
        risk.put_list_entry(p, "block", "device", HOME.device_id, "reported stolen", "op")
    finally:
        p.close()
    p = make_platform("sqlite", tmp_path / "data", extra=extra)  # the writer knows no keys now
    try:
        again = _pay(p, u, m, 12_00, "same-key")  # the client retries: its first answer
        assert again["id"] == first["id"]
        with pytest.raises(RiskRejected):
            _pay(p, u, m, 12_00, "new-key")
        assert balance(p, u) == 1_000_00 - 12_00
        assert_ledger_clean(p)
    finally:
        p.close()
