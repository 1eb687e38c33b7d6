"""``make screenshots``: the main pages as PNGs in docs/screenshots/, from a fresh sandbox.

Starts the platform on a temporary data dir with the demo data (plus a merchant application, a
payment and a risk case, so the pages have something to show), serves it on a free 127.0.0.1
port, signs in as a user, a merchant and an operator in headless Chromium (/usr/bin/chromium),
and saves each page of ``PAGES`` 1200 px wide as a palette PNG (small enough to commit).

Add a page: one line in ``PAGES`` (its file name, who signs in, the path; ``{merchant_id}`` and
``{application_id}`` are filled in from the seeded data)."""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Shot:
    name: str  # docs/screenshots/<name>.png
    who: str  # public | user | merchant | operator
    path: str


PAGES: list[Shot] = [
    Shot("home", "public", "/"),
    Shot("merchant-apply", "public", "/merchant/apply"),
    Shot("merchant-apply-status", "public", "/merchant/apply/status"),
    Shot("cashier", "user", "/cashier/m/{merchant_id}"),
    Shot("wallet", "user", "/wallet"),
    Shot("wallet-statement", "user", "/wallet/statement"),
    Shot("wallet-transfer", "user", "/wallet/transfer"),
    Shot("wallet-pay-code", "user", "/wallet/pay-code"),
    Shot("wallet-cards", "user", "/wallet/cards"),
    Shot("wallet-trades", "user", "/wallet/trades"),
    Shot("wallet-huabei", "user", "/wallet/huabei"),
    Shot("wallet-score", "user", "/wallet/score"),
    Shot("wallet-coupons", "user", "/wallet/coupons"),
    Shot("wallet-yuebao", "user", "/wallet/yuebao"),
    Shot("wallet-red-packets", "user", "/wallet/red-packets"),
    Shot("wallet-bills", "user", "/wallet/bills"),
    Shot("wallet-card-transfer", "user", "/wallet/card-transfer"),
    Shot("wallet-notices", "user", "/wallet/notices"),
    Shot("merchant", "merchant", "/merchant"),
    Shot("merchant-apps", "merchant", "/merchant/apps"),
    Shot("merchant-payouts", "merchant", "/merchant/payouts"),
    Shot("ops-overview", "operator", "/ops"),
    Shot("ops-risk-cases", "operator", "/ops/risk/cases"),
    Shot("ops-users", "operator", "/ops/users"),
    Shot("ops-books", "operator", "/ops/books"),
    Shot("ops-messages", "operator", "/ops/messages"),
    Shot("ops-audit", "operator", "/ops/audit"),
    Shot("ops-plots", "operator", "/ops/plots"),
    Shot("ops-approvals", "operator", "/ops/approvals"),
    Shot("ops-recon", "operator", "/ops/recon"),
    Shot("ops-disputes", "operator", "/ops/disputes"),
    Shot("ops-notifications", "operator", "/ops/notifications"),
    Shot("ops-campaigns", "operator", "/ops/campaigns"),
    Shot("ops-credit-portfolio", "operator", "/ops/credit/portfolio"),
    Shot("ops-merchant-applications", "operator", "/ops/merchant-applications"),
    Shot("ops-merchant-application", "operator", "/ops/merchant-applications/{application_id}"),
]

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
WIDTH_PX, MAX_HEIGHT_PX = 1200, 1800
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def seed(p: Any) -> dict[str, Any]:
    """Demo data and a little activity; returns what the pages and sign-ins need."""
    from qianbao.demo import load_demo
    from qianbao.members import service as members
    from qianbao.money_movement.context import RequestContext, use
    from qianbao.onboarding import applications
    from qianbao.onboarding.checks import ApplicationForm, credit_code_check_char
    from qianbao.payments import service as payments
    from qianbao.platform.errors import QianbaoError
    from qianbao.risk import service as risk

    demo, _ = load_demo(p)
    user, merchant_id = demo["users"][0], demo["merchant"]["merchant_id"]
    payments.pay_merchant(p, user["user_id"], merchant_id, 12_88, "shot-1", user["pay_password"])
    risk.put_list_entry(p, "block", "device", "stolen-1", "reported stolen", "screenshots")
    try:
        with use(RequestContext(device_id="stolen-1", ip="10.1.1.1")):
            payments.pay_merchant(
                p, user["user_id"], merchant_id, 6_00, "shot-2", user["pay_password"]
            )
    except QianbaoError:
        pass  # refused by the block list: the risk case the ops page shows
    licence = "91330106MA27XW5K1"
    application = applications.submit(
        p,
        ApplicationForm(
            business_name="西湖咖啡 West Lake Coffee",
            licence_no=licence + credit_code_check_char(licence),
            contact_name="王芳",
            contact_phone="13912345678",
            contact_email="owner@westlake-coffee.example",
            bank_account_no="6222020000000010009",
            account_holder="西湖咖啡 West Lake Coffee",
        ),
    )
    _, operator_key = members.create_operator(p, "screenshots-admin", "admin")
    return {
        "phone": user["phone"],
        "password": user["login_password"],
        "merchant_id": merchant_id,
        "merchant_key": demo["merchant"]["api_key"],
        "operator_key": operator_key,
        "application_id": application["id"],
    }


def sign_in(page: Any, base: str, who: str, facts: dict[str, Any]) -> None:
    if who == "user":
        page.goto(base + "/wallet/notices")
        page.fill("#phone", facts["phone"])
        page.fill("#password", facts["password"])
        page.click("#login")
    elif who == "merchant":
        page.goto(base + "/merchant")
        page.fill("#api-key", facts["merchant_key"])
        page.click("#login")
    elif who == "operator":
        page.goto(base + "/ops/login")
        page.fill("input[name=api_key]", facts["operator_key"])
        page.click("button[type=submit]")
    page.wait_for_load_state()


def save_png(raw: bytes, path: Path) -> int:
    """1200 px wide, at most 1800 high, 256 colours, optimised; returns the file's bytes."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(raw)).convert("RGB")
    if image.height > MAX_HEIGHT_PX:
        image = image.crop((0, 0, image.width, MAX_HEIGHT_PX))
    image.quantize(colors=256).save(path, optimize=True)
    return path.stat().st_size


def shoot(base: str, facts: dict[str, Any]) -> list[tuple[str, int]]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    saved: list[tuple[str, int]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts: dict[str, Any] = {}
        for shot in PAGES:
            if shot.who not in contexts:
                context = browser.new_context(viewport={"width": WIDTH_PX, "height": 800})
                page = context.new_page()
                if shot.who != "public":
                    sign_in(page, base, shot.who, facts)
                contexts[shot.who] = page
            page = contexts[shot.who]
            page.goto(base + shot.path.format(**facts))
            page.wait_for_load_state()
            raw = page.screenshot(full_page=True)
            saved.append((shot.name, save_png(raw, OUT / f"{shot.name}.png")))
        browser.close()
    return saved


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    import uvicorn

    from qianbao.bootstrap import open_platform
    from qianbao.platform.settings import Settings
    from qianbao.server import build_app

    with tempfile.TemporaryDirectory(prefix="qianbao-shots-") as data_dir:
        p = open_platform(Settings(data_dir=Path(data_dir)))
        try:
            facts = seed(p)
            port = free_port()
            config = uvicorn.Config(build_app(p), host="127.0.0.1", port=port, log_level="warning")
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            deadline = time.monotonic() + 30
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                saved = shoot(f"http://127.0.0.1:{port}", facts)
            finally:
                server.should_exit = True
                thread.join(timeout=10)
        finally:
            p.close()
    for name, size in saved:
        print(f"{name:32} {size / 1024:7.1f} KiB")
    print(f"{len(saved)} screenshots in {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
