"""The back office's support pages (TestClient): a dispute decided by support, a compensation
proposed and paid only on a second operator's approval, and a notification resent."""

from __future__ import annotations

from qianbao.backoffice import approvals, audit
from qianbao.openapi import notify
from qianbao.payments import disputes, trades
from qianbao.platform.clock import clock
from tests.conftest import assert_ledger_clean
from tests.security.ops_helpers import OpsClient, approval_id, disputed_trade
from tests.trades.helpers import balance

CLOSED_PORT_URL = "http://127.0.0.1:9/notify"  # nothing listens: every delivery fails


def test_support_decides_a_dispute_and_others_cannot(sqlite_platform):
    p = sqlite_platform
    t = disputed_trade(p, 100_00)
    support, auditor = OpsClient(p, "support"), OpsClient(p, "auditor")
    queue = auditor.get("/ops/disputes")
    assert f'id="dispute-{t["id"]}"' in queue.text
    assert 'id="decide"' not in auditor.get(f"/ops/disputes/{t['id']}").text
    url = f"/ops/disputes/{t['id']}/decide"
    assert auditor.post(url, decision="refund", reason="x").status_code == 403
    cases = [
        ({"decision": "refund", "reason": ""}, 400, "REASON_REQUIRED"),
        ({"decision": "maybe", "reason": "x"}, 400, "DECISION_INVALID"),
        ({"decision": "split", "buyer_amount": "100.00", "reason": "x"}, 400, "SPLIT_INVALID"),
        ({"decision": "split", "buyer_amount": "1,5", "reason": "x"}, 400, "INVALID_ARGUMENT"),
    ]
    for data, status, code in cases:
        r = support.post(url, **data)
        assert (r.status_code, code in r.text) == (status, True), (data, r.text)
    assert trades.get_trade(p, t["id"])["status"] == trades.TRADE_DISPUTED
    done = support.post(url, decision="split", buyer_amount="60.00", reason="half the goods")
    assert done.status_code == 200 and "TRADE_FINISHED" in done.text, done.text
    assert balance(p, t["buyer_id"]) == 60_00
    again = support.post(url, decision="refund", reason="twice")
    assert again.status_code == 409 and balance(p, t["buyer_id"]) == 60_00
    assert support.get("/ops/disputes/nope").status_code == 404
    assert (
        support.post("/ops/disputes/nope/decide", decision="refund", reason="x").status_code == 404
    )
    assert_ledger_clean(p)


def test_a_compensation_is_paid_once_on_a_second_operators_approval(platform):
    p = platform  # SQLite and PostgreSQL
    t = disputed_trade(p, 30_00)
    support, finance, other = (OpsClient(p, r) for r in ("support", "finance", "finance"))
    url = f"/ops/disputes/{t['id']}/compensation"
    assert support.post(url, amount="", reason="fraud").status_code == 400
    assert support.post(url, amount="10.00", reason=" ").status_code == 400
    assert (
        support.post("/ops/disputes/nope/compensation", amount="1.00", reason="x").status_code
        == 404
    )
    assert approvals.list_approvals(p) == []
    before = balance(p, t["buyer_id"])
    proposed = support.post(url, amount="12.50", reason="proven fraud by the seller")
    assert proposed.status_code == 200, proposed.text
    aid = approval_id(proposed.text)
    assert 'id="compensation-asked"' in finance.get(f"/ops/disputes/{t['id']}").text
    assert support.post(f"/ops/approvals/{aid}/approve").status_code == 403  # support may not
    assert balance(p, t["buyer_id"]) == before
    page = finance.get("/ops/approvals")
    assert f'id="approval-{aid}"' in page.text and "¥12.50" in page.text
    assert "proven fraud" in page.text
    done = finance.post(f"/ops/approvals/{aid}/approve")
    assert done.status_code == 200 and "APPROVED" in done.text, done.text
    assert balance(p, t["buyer_id"]) == before + 12_50
    assert other.post(f"/ops/approvals/{aid}/approve").status_code == 409
    assert balance(p, t["buyer_id"]) == before + 12_50
    assert [c["amount_fen"] for c in disputes.compensations(p)] == [12_50]
    assert 'id="compensation"' in other.get(f"/ops/disputes/{t['id']}").text
    # a second proposal on the same trade is refused when it runs, and pays nothing
    again = approval_id(support.post(url, amount="1.00", reason="again").text)
    refused = finance.post(f"/ops/approvals/{again}/approve")
    assert refused.status_code == 409 and "ALREADY_COMPENSATED" in refused.text
    assert approvals.get(p, again)["status"] == "FAILED"
    assert balance(p, t["buyer_id"]) == before + 12_50
    assert_ledger_clean(p)


def test_a_notification_is_resent_by_support_and_audited(sqlite_platform):
    p = sqlite_platform
    try:
        t = disputed_trade(p, 20_00, notify_url=CLOSED_PORT_URL)
        notify.deliver_due(p)
        [task] = notify.list_tasks(p, trade_id=t["id"])
        assert task["attempts"] == 1 and task["status"] == notify.PENDING
        support, auditor = OpsClient(p, "support"), OpsClient(p, "auditor")
        log = auditor.get(f"/ops/notifications?trade_id={t['id']}")
        assert f'id="notification-{task["id"]}"' in log.text and 'class="resend"' not in log.text
        url = f"/ops/notifications/{task['id']}/resend"
        assert auditor.post(url).status_code == 403
        assert notify.list_tasks(p, trade_id=t["id"])[0]["next_at_ms"] == task["next_at_ms"]
        assert 'class="resend"' in support.get("/ops/notifications").text
        sent = support.post(url)
        assert sent.status_code == 200 and "PENDING" in sent.text, sent.text
        [after] = notify.list_tasks(p, trade_id=t["id"])
        assert after["next_at_ms"] <= clock.now_ms() < task["next_at_ms"]
        notify.deliver_due(p)
        assert notify.list_tasks(p, trade_id=t["id"])[0]["attempts"] == 2
        assert support.post("/ops/notifications/nope/resend").status_code == 404
        assert auditor.get("/ops/notifications?status=BOGUS&trade_id=nope").status_code == 200
        entries = [audit.public(e) for e in audit.read(p)]
        resends = [e for e in entries if e["action"].endswith("/resend")]
        assert {(e["operator_id"], e["outcome"]) for e in resends} == {
            (auditor.id, 403),
            (support.id, 200),
            (support.id, 404),
        }
    finally:
        clock.use_real_time()
