"""The notices API: my notices and preferences (mine only), bad input as 4xx that changes
nothing, and the operators' delivery log."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from qianbao.api import notices as notices_api
from qianbao.api.app import create_app
from qianbao.members import service as members
from qianbao.notices import service
from qianbao.platform.runtime import Platform
from tests.credit.helpers import at
from tests.factories import LOGIN_PASSWORD, new_user, operator_headers


def _login(c: TestClient, p: Platform, user_id: str) -> dict[str, str]:
    phone = members.get_user(p, user_id)["phone"]
    t = c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD}).json()
    return {"Authorization": f"Bearer {t['token']}"}


def test_notices_over_http(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    at(date(2026, 3, 2), 12)
    c = TestClient(create_app(p, extra_routers=[notices_api.router]))
    alice, bob = new_user(p), new_user(p)
    ha, hb = _login(c, p, alice), _login(c, p, bob)
    params = {"sender": "李四", "amount_fen": 520, "message": "生日快乐"}
    service.send(p, alice, "red_packet_received", params, dedupe_key="rp-api")

    assert c.get("/api/v1/me/notice-prefs", headers=ha).json() == {
        "language": "zh",
        "channel": "SMS",
        "email": None,
        "quiet_start": "22:00",
        "quiet_end": "08:00",
    }
    r = c.put("/api/v1/me/notice-prefs", json={"language": "en", "quiet_end": "07:30"}, headers=ha)
    assert r.status_code == 200 and r.json()["quiet_end"] == "07:30"
    for bad in ({"language": "de"}, {"channel": "EMAIL"}, {"quiet_start": "9"}, {"x": 1}):
        r = c.put("/api/v1/me/notice-prefs", json=bad, headers=ha)
        assert 400 <= r.status_code < 500 and "code" in r.json(), (bad, r.text)
    assert c.get("/api/v1/me/notice-prefs", headers=ha).json()["language"] == "en"
    assert c.get("/api/v1/me/notice-prefs", headers=hb).json()["language"] == "zh"  # not Bob's

    admin, auditor = operator_headers(p, "admin"), operator_headers(p, "auditor")
    assert c.post("/api/v1/ops/notices/deliver", headers=auditor).status_code == 403
    assert c.post("/api/v1/ops/notices/deliver", headers=admin).json()["sent"] == 1
    (mine,) = c.get("/api/v1/me/notices", headers=ha).json()
    assert mine["status"] == "SENT" and mine["language"] == "en"
    assert mine["body"] == '[Qianbao] 李四 sent you a red packet: CNY 5.20, "生日快乐"'
    assert c.get("/api/v1/me/notices", headers=hb).json() == []
    assert c.get("/api/v1/me/notices?kind=nope", headers=ha).status_code == 400
    assert c.get("/api/v1/me/notices", headers={"Authorization": "Bearer x"}).status_code in (
        401,
        403,
    )
    log = c.get(f"/api/v1/ops/notices/deliveries?user_id={alice}", headers=auditor).json()
    assert [(r["kind"], r["channel"]) for r in log] == [("red_packet_received", "SMS")]
    assert c.get("/api/v1/ops/notices/deliveries", headers=auditor).status_code == 422
    assert c.get("/api/v1/ops/notices/stats", headers=auditor).json() == {"SENT": 1}
    assert c.get("/api/v1/ops/notices/stats", headers=ha).status_code in (401, 403)
