"""The back office's money actions over its pages (TestClient): a reconciliation difference's
resolution is proposed by one operator and runs only when another approves it; bad ids, a
second approval and a role without the permission change nothing."""

from __future__ import annotations

from datetime import timedelta

from qianbao.backoffice import approvals, audit
from qianbao.channels import reconcile as recon
from qianbao.platform.clock import clock
from tests.conftest import assert_ledger_clean
from tests.security.ops_helpers import DAY, OpsClient, approval_id, stray_charge_day

REPORT = f"/ops/recon/SIMBANK/{DAY}"


def _suspense_fen(p) -> int:
    with p.units[0].read() as tx:
        return int(tx.scalar("SELECT balance_fen FROM accounts WHERE id = 'suspense:u0'") or 0)


def _propose(maker: OpsClient, reason: str = "stray card charge, to suspense") -> str:
    r = maker.post(f"{REPORT}/suspense/stray-1", reason=reason)
    assert r.status_code == 200 and "PENDING" in r.text, r.text
    return approval_id(r.text)


def test_a_suspense_booking_runs_only_when_a_second_operator_approves(platform):
    p = platform  # SQLite and PostgreSQL
    try:
        stray_charge_day(p)
        maker, checker = OpsClient(p, "finance"), OpsClient(p, "finance")
        ran = maker.post("/ops/recon/run", channel="SIMBANK", day=DAY.isoformat())
        assert ran.status_code == 200 and "DIFFERENCES" in ran.text, ran.text
        page = maker.get(REPORT)
        assert 'id="diff-stray-1"' in page.text and "BANK_ONLY" in page.text
        assert 'class="propose-suspense"' in page.text
        no_reason = maker.post(f"{REPORT}/suspense/stray-1", reason="  ")
        assert no_reason.status_code == 400 and "REASON_REQUIRED" in no_reason.text
        assert approvals.list_approvals(p) == []
        aid = _propose(maker)
        mine = maker.get(f"/ops/approvals/{aid}")
        assert 'id="approve"' not in mine.text and 'id="cannot-decide"' in mine.text
        refused = maker.post(f"/ops/approvals/{aid}/approve")
        assert refused.status_code == 403 and "APPROVAL_BY_MAKER" in refused.text
        assert approvals.get(p, aid)["status"] == "PENDING" and _suspense_fen(p) == 0
        assert 'id="approve"' in checker.get(f"/ops/approvals/{aid}").text
        done = checker.post(f"/ops/approvals/{aid}/approve", note="seen the bank's line")
        assert done.status_code == 200 and "APPROVED" in done.text, done.text
        assert _suspense_fen(p) == 450
        again = checker.post(f"/ops/approvals/{aid}/approve")
        assert again.status_code == 409 and "APPROVAL_NOT_PENDING" in again.text
        assert _suspense_fen(p) == 450
        resolved = maker.get(REPORT)
        assert (
            "suspense APPROVED" in resolved.text and 'class="propose-suspense"' not in resolved.text
        )
        recon.reconcile(p, "SIMBANK", DAY)  # a re-run: the line is ours now
        assert 'id="diff-stray-1"' not in maker.get(REPORT).text
        assert_ledger_clean(p)
        actions = {(e["operator_id"], e["outcome"]) for e in map(audit.public, audit.read(p))}
        assert {(maker.id, 403), (checker.id, 200), (checker.id, 409)} <= actions
    finally:
        clock.use_real_time()


def test_a_role_without_the_permission_gets_403_and_nothing_changes(sqlite_platform):
    p = sqlite_platform
    try:
        stray_charge_day(p)
        maker, support, auditor = (OpsClient(p, r) for r in ("finance", "support", "auditor"))
        denied = auditor.post("/ops/recon/run", channel="SIMBANK", day=DAY.isoformat())
        assert denied.status_code == 403 and recon.runs(p) == []
        maker.post("/ops/recon/run", channel="SIMBANK", day=DAY.isoformat())
        assert support.post(f"{REPORT}/suspense/stray-1", reason="x").status_code == 403
        assert 'class="propose-suspense"' not in support.get(REPORT).text
        aid = _propose(maker)
        assert 'id="approve"' not in support.get(f"/ops/approvals/{aid}").text
        r = support.post(f"/ops/approvals/{aid}/approve")
        assert r.status_code == 403 and approvals.get(p, aid)["status"] == "PENDING"
        r = support.post(f"/ops/approvals/{aid}/reject", reason="no")
        assert r.status_code == 403 and approvals.get(p, aid)["status"] == "PENDING"
        assert _suspense_fen(p) == 0
        support_did = [
            e for e in map(audit.public, audit.read(p)) if e["operator_id"] == support.id
        ]
        refused = [e for e in support_did if e["outcome"] == 403]  # (its page views are there too)
        assert len(refused) == 3 and {e["method"] for e in refused} == {"POST"}
    finally:
        clock.use_real_time()


def test_bad_ids_and_bad_input_are_4xx_and_change_nothing(sqlite_platform):
    p = sqlite_platform
    try:
        stray_charge_day(p)
        finance, other = OpsClient(p, "finance"), OpsClient(p, "finance")
        finance.post("/ops/recon/run", channel="SIMBANK", day=DAY.isoformat())
        cases = {
            ("/ops/recon/run", "NOBANK", DAY.isoformat()): 404,
            ("/ops/recon/run", "SIMBANK", "2026-02-30"): 400,
            ("/ops/recon/run", "SIMBANK", "2999-01-01"): 400,
        }
        for (path, channel, day), status in cases.items():
            assert finance.post(path, channel=channel, day=day).status_code == status
        for path in (
            f"{REPORT}/suspense/nope",
            f"/ops/recon/SIMBANK/{DAY}/redrive/nope",
            "/ops/recon/NOBANK/2026-03-10/redrive/nope",
            "/ops/recon/SIMBANK/1999-01-01/suspense/stray-1",
        ):
            r = finance.post(path, reason="because")
            assert 400 <= r.status_code < 500 and 'id="error-code"' in r.text, (path, r.text)
        assert approvals.list_approvals(p) == []
        assert other.get("/ops/approvals/nope").status_code == 404
        assert other.post("/ops/approvals/nope/approve").status_code == 404
        assert other.get("/ops/recon/SIMBANK/2026-99-01").status_code == 400
        assert other.get("/ops/recon/SIMBANK/2026-03-01").status_code == 404
        no_csrf = other.c.post(f"{REPORT}/suspense/stray-1", data={"reason": "x"})
        assert no_csrf.status_code == 403 and approvals.list_approvals(p) == []
        rejected = other.post(f"/ops/approvals/{_propose(finance)}/reject", reason="")
        assert rejected.status_code == 400 and "REASON_REQUIRED" in rejected.text
        assert _suspense_fen(p) == 0
    finally:
        clock.use_real_time()


def test_a_declined_refund_is_redriven_on_approval_and_the_code_is_asked(sqlite_platform):
    import pyotp

    from qianbao.backoffice import totp
    from qianbao.members import service as members
    from qianbao.members.vault import card_number
    from qianbao.payments import trades
    from tests.factories import PAY_PASSWORD, new_user
    from tests.security.ops_helpers import at
    from tests.trades.helpers import new_merchant, req

    p = sqlite_platform
    bank = p.channels["SIMBANK"]
    try:
        at(DAY)
        buyer = new_user(p, unit=0)
        card = members.list_cards(p, buyer)[0]
        t = trades.create(p, req(new_merchant(p), 2_500), buyer)
        paid = trades.pay(p, t["id"], buyer, PAY_PASSWORD, funding=trades.CARD, card_id=card["id"])
        bank.failure_rate = 1.0
        refund = trades.refund(p, paid["merchant_id"], 2_500, "r-d", trade_no=paid["id"])
        bank.failure_rate = 0.0
        request_id, held_fen = f"R{refund['id']}", bank.balance_fen(card_number(p, card))
        at(DAY + timedelta(days=1), 9)
        maker, checker = OpsClient(p, "finance"), OpsClient(p, "finance")
        maker.post("/ops/recon/run", channel="SIMBANK", day=DAY.isoformat())
        assert f'id="payout-{request_id}"' in maker.get(REPORT).text
        proposed = maker.post(f"{REPORT}/redrive/{request_id}", reason="the card is valid again")
        aid = approval_id(proposed.text)
        assert "¥25.00" in checker.get("/ops/approvals").text
        uri = totp.enrol(p, checker.id, checker.id)
        assert 'id="approve-otp"' in checker.get(f"/ops/approvals/{aid}").text
        no_code = checker.post(f"/ops/approvals/{aid}/approve")
        assert no_code.status_code == 401 and "OTP_REQUIRED" in no_code.text
        assert approvals.get(p, aid)["status"] == "PENDING"
        code = pyotp.parse_uri(uri).now()
        done = checker.post(f"/ops/approvals/{aid}/approve", otp=code)
        assert done.status_code == 200 and 'id="field-status">APPROVED<' in done.text
        assert 'id="field-result_status">SUCCEEDED<' in done.text, done.text
        assert bank.balance_fen(card_number(p, card)) == held_fen + 2_500
        assert "redrive APPROVED" in maker.get(REPORT).text
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()


def test_a_line_needing_no_booking_is_marked_resolved_once_with_its_note(sqlite_platform):
    p = sqlite_platform
    try:
        stray_charge_day(p)
        with p.global_db.transaction() as tx:  # our journal is off by a fen on the top-up
            tx.execute("UPDATE channel_requests SET amount_fen = amount_fen + 1")
        finance, support = OpsClient(p, "finance"), OpsClient(p, "support")
        report = recon.reconcile(p, "SIMBANK", DAY)
        [mismatch] = [d.request_id for d in report.differences if d.problem == "AMOUNT_MISMATCH"]
        url = f"{REPORT}/resolve/{mismatch}"
        assert 'class="mark-resolved"' in finance.get(REPORT).text
        assert support.post(url, reason="checked").status_code == 403
        assert finance.post(url, reason="").status_code == 400
        booked = finance.post(f"{REPORT}/resolve/stray-1", reason="seen")
        assert booked.status_code == 400 and "DIFFERENCE_NEEDS_BOOKING" in booked.text
        assert finance.post(f"{REPORT}/resolve/nope", reason="seen").status_code == 404
        done = finance.post(url, reason="the bank's fee was netted; agreed with the bank")
        assert done.status_code == 200, done.text
        again = finance.post(url, reason="twice")
        assert again.status_code == 409 and "DIFFERENCE_ALREADY_NOTED" in again.text
        row = finance.get(REPORT).text
        assert "the bank&#39;s fee was netted" in row and f"Resolved by {finance.id}" in row
    finally:
        clock.use_real_time()
