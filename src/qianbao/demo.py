"""Demo data: two users in different units with cards and money, a merchant and an operator.

Loads once: the users' passwords and the merchant's key go to ``<data_dir>/demo.json`` (mode
0600, read by ``qianbao demo`` to print them again); the operator's API key is returned once, at
creation, and stored nowhere (``qianbao keys rotate-operator`` makes a new one). A second run finds
the file and does nothing. Only in the sandbox: a production platform refuses demo data.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from qianbao.billpay import service as billpay
from qianbao.members import service as members
from qianbao.members import store as member_store
from qianbao.members.identity import make_card_no, make_id_number
from qianbao.payments import service as payments
from qianbao.platform.errors import Conflict
from qianbao.platform.ids import bucket_for_key
from qianbao.platform.modes import refuse_demo
from qianbao.platform.runtime import Platform

DEMO_USERS = [
    ("张三", "110101199003070011", "13800000001", "6222021234567890"),
    ("李四", "310104198811120022", "13900000002", "6222031234567890"),
]
LOGIN_PASSWORD, PAY_PASSWORD = "demo1234", "258036"
DEMO_MERCHANT = "Demo Coffee 演示咖啡"
TOPUP_FEN = 1_000_000
# The first demo user's answers to the scorecard's application questions.
SAMPLE_ANSWERS = {
    "status_of_existing_checking_account": "0 <= ... < 200 DM",
    "duration_in_month": 12,
    "credit_history": "existing credits paid back duly till now",
    "purpose": "radio/television",
    "credit_amount": 2500,
    "savings_account_and_bonds": "100 <= ... < 500 DM",
    "present_employment_since": "1 <= ... < 4 years",
    "installment_rate_in_percentage_of_disposable_income": 2,
    "property": "real estate",
    "other_installment_plans": "none",
    "other_debtors_or_guarantors": "none",
    "housing": "own",
}


def _demo_phone(p: Platform, unit: int, start: int) -> str:
    """The first phone number from ``start`` that routes to ``unit``."""
    n = start
    while p.unit_of_bucket(bucket_for_key(f"{n}")) != unit:
        n += 1
    return str(n)


def demo_present(p: Platform) -> bool:
    """Whether demo data (known passwords and keys) is in this platform's data."""
    if (p.settings.data_dir / "demo.json").exists():
        return True
    with p.global_db.read() as tx:
        return member_store.merchant_by_name(tx, DEMO_MERCHANT) is not None


def load_demo(p: Platform) -> tuple[dict[str, Any], bool]:
    """Returns (the demo credentials, whether they were created now). Only in the sandbox."""
    refuse_demo(p.settings)
    path = p.settings.data_dir / "demo.json"
    if path.exists():
        return json.loads(path.read_text()), False
    users = []
    for i, (name, _, phone_seed, card_seed) in enumerate(DEMO_USERS):
        unit = i % len(p.units)
        phone = _demo_phone(p, unit, int(phone_seed))
        id_number = make_id_number(
            "110101" if i == 0 else "310104", date(1990 - 2 * i, 3 + i, 7 + i), 11 + i
        )
        try:
            user = members.register_user(
                p, members.NewUser(name, id_number, phone, LOGIN_PASSWORD, PAY_PASSWORD)
            )
        except Conflict:
            user = members.find_user_by_phone(p, phone)
        card = members.bind_card(p, user["id"], make_card_no(card_seed[:15]))
        payments.topup(p, user["id"], card["id"], TOPUP_FEN, "demo-topup")
        members.set_password_free_limit(p, user["id"], 20_000, PAY_PASSWORD)
        users.append(
            {
                "name": name,
                "phone": phone,
                "login_password": LOGIN_PASSWORD,
                "pay_password": PAY_PASSWORD,
                "user_id": user["id"],
                "unit": unit,
                "card_id": card["id"],
            }
        )
    merchant, merchant_key = members.create_merchant(p, DEMO_MERCHANT)
    operator, operator_key = members.create_operator(p, "demo-admin", "admin")
    demo: dict[str, Any] = {
        "users": users,
        "merchant": {
            "name": merchant["name"],
            "merchant_id": merchant["id"],
            "api_key": merchant_key,
        },
        "operator": {"name": operator["name"], "operator_id": operator["id"], "role": "admin"},
    }
    from qianbao.openapi.apps import ensure_sandbox_app
    from qianbao.scoring import service as scoring

    scorecard = scoring.active_card(p)  # trains the first card on German Credit (seconds)
    names = set(scorecard.inputs)  # the card's attributes and the inputs of derived ones
    scoring.score_user(
        p,
        users[0]["user_id"],
        {k: v for k, v in SAMPLE_ANSWERS.items() if k in names},
        reason="APPLICATION",
    )

    demo["sandbox_app_id"] = ensure_sandbox_app(p, merchant["id"])["app_id"]
    demo["billpay"] = _demo_bills(p, users[0]["name"])
    path.touch(mode=0o600)  # the users' passwords and the merchant's key: the owner reads it
    path.write_text(json.dumps(demo, ensure_ascii=False, indent=2))
    # The operator's key is kept nowhere: the caller prints it once (``qianbao demo``).
    demo["operator"] = {**demo["operator"], "api_key": operator_key}
    return demo, True


def _demo_bills(p: Platform, holder: str) -> dict[str, Any]:
    """A water company and a phone carrier on the biller simulator, each with a bill for the
    first demo user's account (缴费 at /wallet/bills)."""
    shown = {}
    for code, name, category, account, amount_fen in (
        ("HZWATER", "杭州水务 Hangzhou Water", "WATER", "330100001", 86_35),
        ("CMCC", "中国移动 China Mobile", "PHONE", "13800000001", 58_00),
    ):
        billpay.register_biller(p, code, name, category)
        p.billers.open_account(code, account, holder)
        p.billers.issue_bill(code, account, "2026-11", amount_fen, "2026-12-15")
        shown[code] = account
    return shown
