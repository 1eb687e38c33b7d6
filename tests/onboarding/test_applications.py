"""Merchant onboarding without a browser: every field's bad input is a 4xx that stores nothing,
a repeat changes nothing, approval creates the merchant once, keys are checked, roles enforced."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from qianbao.backoffice import audit
from qianbao.members import service as members
from qianbao.onboarding import applications, logins
from qianbao.onboarding.errors import ActivationCodeInvalid, MerchantSignInFailed
from qianbao.openapi import apps
from qianbao.openapi.errors import AppKeyInvalid
from qianbao.payments.moneyout import payouts
from qianbao.platform.errors import QianbaoError
from qianbao.server import build_app
from tests.conftest import assert_ledger_clean
from tests.factories import operator_headers, page_csrf
from tests.onboarding.helpers import (
    MERCHANT_PASSWORD,
    ec_public_pem,
    form,
    form_values,
    licence,
    private_pem,
    public_pem,
)

BAD_FIELDS = [
    ("business_name", "x"),
    ("licence_no", "91330106MA27XW5K1"),  # 17 characters
    ("licence_no", licence(999)[:-1] + ("0" if licence(999)[-1] != "0" else "1")),  # check char
    ("licence_no", "9133010O000000000X"),  # a letter outside the alphabet
    ("contact_name", ""),
    ("contact_phone", "12345"),
    ("contact_email", "not-an-email"),
    ("bank_account_no", "6222020000000010008"),  # Luhn fails
    ("bank_account_no", "abc"),
    ("account_holder", "\x00\x01"),
    ("category", "weapons"),
]


def _count(p) -> int:
    return len(applications.list_applications(p))


def test_bad_input_on_every_field_is_4xx_and_stores_nothing(sqlite_platform):
    p = sqlite_platform
    c = TestClient(build_app(p))
    csrf = page_csrf(c, "/merchant/apply")
    for field, value in BAD_FIELDS:
        values = form_values(**{field: value})
        answer = c.post("/api/v1/merchant-applications", json=values)
        assert 400 <= answer.status_code < 500, (field, value, answer.text)
        assert set(answer.json()) == {"code", "message"}
        page = c.post("/merchant/apply", data={**values, "csrf_token": csrf})
        assert 400 <= page.status_code < 500 and 'id="error"' in page.text, (field, value)
        assert f'value="{values["bank_account_no"]}"' not in page.text  # never echoed
    assert _count(p) == 0


def test_a_form_without_csrf_or_with_too_long_fields_is_refused(sqlite_platform):
    c = TestClient(build_app(sqlite_platform))
    assert c.post("/merchant/apply", data=form_values()).status_code == 403
    long = c.post("/api/v1/merchant-applications", json=form_values(business_name="x" * 500))
    assert long.status_code == 422 and long.json()["code"]
    assert _count(sqlite_platform) == 0


def test_the_same_form_again_changes_nothing_another_for_the_licence_conflicts(sqlite_platform):
    p = sqlite_platform
    values = form_values()
    c = TestClient(build_app(p))
    first = c.post("/api/v1/merchant-applications", json=values)
    assert first.status_code == 201 and first.json()["status"] == "SUBMITTED"
    again = c.post("/api/v1/merchant-applications", json=values)
    assert again.json()["application_no"] == first.json()["application_no"]
    other = c.post("/api/v1/merchant-applications", json={**values, "contact_name": "李雷"})
    assert other.status_code == 409 and other.json()["code"] == "APPLICATION_EXISTS"
    assert _count(p) == 1
    row = applications.list_applications(p)[0]
    assert values["bank_account_no"] not in str(dict(row))  # sealed at rest
    assert applications.bank_account_no(p, row) == values["bank_account_no"]
    lookup = {"application_no": first.json()["application_no"], "contact_phone": "13800000000"}
    assert c.post("/api/v1/merchant-applications/lookup", json=lookup).status_code == 404
    odd = {**lookup, "contact_phone": "一三九"}  # not ASCII: still a plain 404
    assert c.post("/api/v1/merchant-applications/lookup", json=odd).status_code == 404
    lookup["contact_phone"] = values["contact_phone"]
    seen = c.post("/api/v1/merchant-applications/lookup", json=lookup).json()
    assert seen["status"] == "SUBMITTED" and "bank_account" not in seen


def test_approve_creates_the_merchant_once_and_the_merchant_signs_in(platform):
    """On both engines (the licence's live-uniqueness relies on NULLs being distinct)."""
    p = platform
    row = applications.submit(p, form(category="medical"))
    done = applications.approve(p, "op-1", row["id"])
    assert done.activation_code and done.application["status"] == "APPROVED"
    merchant_id = done.application["merchant_id"]
    merchant = members.get_merchant(p, merchant_id)
    assert merchant["name"] == row["business_name"] and merchant["category"] == "medical"
    assert payouts.settlement_account(p, merchant_id)["account_no"].endswith(row["bank_last4"])
    count = len(members.list_merchants(p))
    second = applications.approve(p, "op-2", row["id"])
    assert second.activation_code == "" and second.application["merchant_id"] == merchant_id
    assert len(members.list_merchants(p)) == count
    with pytest.raises(MerchantSignInFailed):  # not activated yet
        logins.sign_in(p, row["contact_email"], MERCHANT_PASSWORD)
    with pytest.raises(QianbaoError):
        logins.activate(p, done.activation_code, "weak")
    api_key = logins.activate(p, done.activation_code, MERCHANT_PASSWORD)
    assert members.principal_for_key(p, api_key).id == merchant_id
    with pytest.raises(ActivationCodeInvalid):
        logins.activate(p, done.activation_code, MERCHANT_PASSWORD)
    cookie = logins.sign_in(p, row["contact_email"].upper(), MERCHANT_PASSWORD)
    assert cookie and api_key.partition(".")[2] not in cookie
    with pytest.raises(MerchantSignInFailed):
        logins.sign_in(p, row["contact_email"], "wrong-pass1")
    assert_ledger_clean(p)


def test_a_rejected_application_cannot_be_approved_or_sign_in(sqlite_platform):
    p = sqlite_platform
    row = applications.submit(p, form())
    with pytest.raises(QianbaoError) as bad:
        applications.reject(p, "op-1", row["id"], "no")
    assert bad.value.code == "REJECT_REASON_INVALID"
    rejected = applications.reject(p, "op-1", row["id"], "licence photo unreadable")
    assert rejected["status"] == "REJECTED" and rejected["licence_live"] is None
    # the licence is free again: a new application for it (another rejected one may exist)
    values = form_values(licence_no=row["licence_no"])
    again = applications.submit(p, form(**values))
    assert again["id"] != row["id"]
    applications.reject(p, "op-1", again["id"], "still unreadable")
    assert applications.reject(p, "op-1", row["id"], "again")["status"] == "REJECTED"
    with pytest.raises(QianbaoError) as decided:
        applications.approve(p, "op-1", row["id"])
    assert decided.value.code == "APPLICATION_DECIDED"
    with pytest.raises(MerchantSignInFailed):
        logins.sign_in(p, row["contact_email"], MERCHANT_PASSWORD)
    seen = applications.status_for_applicant(p, row["application_no"], row["contact_phone"])
    assert seen["reject_reason"] == "licence photo unreadable"


def test_weak_or_garbage_keys_are_refused_and_nothing_is_stored(sqlite_platform):
    p = sqlite_platform
    merchant, _ = members.create_merchant(p, "Key Test Shop")
    weak_key, weak = public_pem(1024)
    for pem in (
        weak,
        ec_public_pem(),
        "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----",
        "",
        private_pem(weak_key),
        "x" * 5000,
    ):
        with pytest.raises(AppKeyInvalid):
            apps.create_app(p, merchant["id"], "My app", pem)
    assert apps.list_apps(p, merchant["id"]) == []
    _, good = public_pem()
    app = apps.create_app(p, merchant["id"], "My app", good)
    with pytest.raises(QianbaoError) as ssrf:
        apps.set_notify_url(p, merchant["id"], app["app_id"], "ftp://example.com/x")
    assert ssrf.value.code == "INVALID_NOTIFY_URL"
    other, _ = members.create_merchant(p, "Other Shop")
    with pytest.raises(QianbaoError):
        apps.set_notify_url(p, other["id"], app["app_id"], "")


def test_a_role_without_merchants_gets_403_on_pages_and_api(sqlite_platform):
    p = sqlite_platform
    row = applications.submit(p, form())
    base = "/ops/merchant-applications"
    for role in ("support", "auditor", "finance", "partner"):
        c = TestClient(build_app(p))
        headers = operator_headers(p, role)
        key = headers["Authorization"].removeprefix("Bearer ")
        csrf = page_csrf(c, "/ops/login")
        c.post("/ops/login", data={"api_key": key, "next": "/ops", "csrf_token": csrf})
        assert c.get(base).status_code == 403, role
        assert c.get(f"{base}/{row['id']}").status_code == 403
        approve = c.post(f"{base}/{row['id']}/approve", data={"csrf_token": csrf})
        assert approve.status_code == 403
        assert c.post(f"/api/v1{base}/{row['id']}/approve", headers=headers).status_code == 403
        reason = {"reason": "nope nope"}
        reject = c.post(f"/api/v1{base}/{row['id']}/reject", json=reason, headers=headers)
        assert reject.status_code == 403
        assert c.get(f"/api/v1{base}", headers=headers).status_code == 403
    assert applications.get_application(p, row["id"])["status"] == "SUBMITTED"


def test_a_partner_submits_in_bulk_and_an_operator_decides_audited(sqlite_platform):
    p = sqlite_platform
    c = TestClient(build_app(p))
    partner, admin = operator_headers(p, "partner"), operator_headers(p, "admin")
    good, twin = form_values(), form_values()
    batch = [good, {**twin, "licence_no": "bad"}, good]
    answer = c.post(
        "/api/v1/ops/merchant-applications", json={"applications": batch}, headers=partner
    )
    body = answer.json()
    assert answer.status_code == 200 and body["submitted"] == 2
    assert [r["ok"] for r in body["results"]] == [True, False, True]
    assert body["results"][1]["error"]["code"] == "LICENCE_INVALID"
    first = body["results"][0]["application"]
    assert body["results"][2]["application"]["application_id"] == first["application_id"]
    assert "****" in first["bank_account"] and good["bank_account_no"] not in answer.text
    one = f"/api/v1/ops/merchant-applications/{first['application_id']}"
    assert c.get(one, headers=partner).status_code == 200  # its own
    approved = c.post(one + "/approve", headers=admin).json()
    assert approved["status"] == "APPROVED" and approved["activation_code"]
    again = c.post(one + "/approve", headers=admin).json()
    assert again["activation_code"] is None and again["merchant_id"] == approved["merchant_id"]
    too_many = c.post(
        "/api/v1/ops/merchant-applications", json={"applications": [good] * 101}, headers=partner
    )
    assert too_many.status_code == 400 and too_many.json()["code"] == "BATCH_TOO_LARGE"
    actions = [e["action"] for e in audit.read(p, limit=50)]
    assert "/api/v1/ops/merchant-applications/{application_id}/approve" in actions


def test_the_home_page_lists_demo_accounts_in_the_sandbox_only_and_links_the_consoles(
    sqlite_platform,
):
    from qianbao.demo import load_demo
    from qianbao.web.pages import demo_accounts

    p = sqlite_platform
    demo, _ = load_demo(p)
    page = TestClient(build_app(p)).get("/").text
    assert 'id="demo-accounts"' in page and demo["users"][0]["phone"] in page
    assert 'href="/merchant/apply"' in page and 'href="/ops"' in page
    assert demo["merchant"]["api_key"] not in page and demo["operator"]["api_key"] not in page
    assert demo["users"][0]["login_password"] not in page
    assert demo_accounts(p.settings.data_dir, sandbox=False) == {}


def test_an_operator_page_decision_is_audited_and_the_link_is_shown_once(sqlite_platform):
    p = sqlite_platform
    row = applications.submit(p, form())
    c = TestClient(build_app(p))
    key = operator_headers(p, "risk")["Authorization"].removeprefix("Bearer ")
    csrf = page_csrf(c, "/ops/login")
    c.post("/ops/login", data={"api_key": key, "next": "/ops", "csrf_token": csrf})
    url = f"/ops/merchant-applications/{row['id']}"
    detail = c.get(url).text
    assert row["bank_last4"] in detail and applications.bank_account_no(p, row) not in detail
    first = c.post(url + "/approve", data={"csrf_token": csrf}).text
    assert 'id="activation-link"' in first and "/merchant/activate?code=" in first
    second = c.post(url + "/approve", data={"csrf_token": csrf}).text
    assert 'id="activation-link"' not in second and "APPROVED" in second
    actions = [(e["action"], e["outcome"]) for e in audit.read(p, limit=20)]
    assert actions.count(("/ops/merchant-applications/{application_id}/approve", 200)) == 2
    assert ("/ops/merchant-applications/{application_id}", 200) in actions
