"""Outbound calls (issue 11, item 5): a merchant's notify_url may not reach the operator's
network. https in production, public addresses only (unless the sandbox allows), the request
pinned to the checked address, timeouts, and no redirect to a refused address."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from qianbao.bootstrap import open_platform
from qianbao.members import service as members
from qianbao.openapi import apps, notify, outbound, signing
from qianbao.payments import trades
from qianbao.platform.errors import QianbaoError
from qianbao.platform.settings import Settings
from tests.conftest import fast_settings
from tests.factories import PAY_PASSWORD, new_user

PRODUCTION = Settings(env="production")
ONLY_LOOPBACK = Settings(outbound_allow_private="127.0.0.1/32")


def _code(fn: Any) -> str:
    try:
        fn()
    except QianbaoError as exc:
        return str(exc.code)
    return "OK"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::5", "private"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped IPv6 is the IPv4 address
        ("8.8.8.8", ""),
        ("2606:4700:4700::1111", ""),
    ],
)
def test_which_addresses_are_refused(address, why):
    assert outbound.address_refused(address) == why


def test_production_needs_https_public_hosts_and_no_credentials_in_the_url():
    public = {
        "hooks.example.com": ["93.184.216.34"],
        "mixed.example.com": ["93.184.216.34", "10.0.0.7"],
    }

    def resolver(host: str, port: int) -> list[str]:
        if host not in public:
            raise OSError("no such host")
        return public[host]

    def check(url: str, settings: Settings = PRODUCTION) -> str:
        return _code(lambda: outbound.check(settings, url, resolver))

    assert check("https://hooks.example.com/notify") == "OK"
    assert check("http://hooks.example.com/notify") == "INVALID_NOTIFY_URL"
    assert check("https://user:pw@hooks.example.com/") == "INVALID_NOTIFY_URL"
    assert check("ftp://hooks.example.com/") == "INVALID_NOTIFY_URL"
    assert check("https:///nohost") == "INVALID_NOTIFY_URL"
    assert check("https://hooks.example.com:99999/") == "INVALID_NOTIFY_URL"
    assert check("https://hooks.example.com/" + "a" * 300) == "INVALID_NOTIFY_URL"
    assert check("https://127.0.0.1:8000/api/v1/ops/users/x") == "NOTIFY_URL_REFUSED"
    assert check("https://169.254.169.254/latest/meta-data/") == "NOTIFY_URL_REFUSED"
    assert check("https://[::1]/") == "NOTIFY_URL_REFUSED"
    assert check("https://mixed.example.com/") == "NOTIFY_URL_REFUSED"  # any private answer
    assert check("https://nowhere.example.com/") == "NOTIFY_URL_REFUSED"
    # the sandbox allows private targets (make run, the tests' receivers), and http
    assert check("http://127.0.0.1:9/notify", Settings()) == "OK"
    # or only the networks it names
    assert check("http://127.0.0.1:9/notify", ONLY_LOOPBACK) == "OK"
    assert check("http://10.0.0.1/notify", ONLY_LOOPBACK) == "NOTIFY_URL_REFUSED"


def test_an_app_cannot_be_registered_with_a_private_notify_url_in_production(tmp_path):
    settings = fast_settings(
        tmp_path, env="production", secret_key="s" * 40, bank_channel="simulator"
    )
    p = open_platform(settings)
    try:
        merchant, _ = members.create_merchant(p, "Prod Shop")
        _, public_pem = signing.new_key_pair()
        for url, code in (
            ("http://10.0.0.8/notify", "INVALID_NOTIFY_URL"),
            ("https://10.0.0.8/notify", "NOTIFY_URL_REFUSED"),
            ("https://169.254.169.254/", "NOTIFY_URL_REFUSED"),
        ):
            assert (
                _code(lambda u=url: apps.create_app(p, merchant["id"], "App", public_pem, u))
                == code
            )
        assert apps.list_apps(p, merchant["id"]) == []  # nothing was stored
    finally:
        p.close()


class Hook:
    """A merchant endpoint on 127.0.0.1: records the Host header of each call, answers what
    ``plan`` says for the path (a redirect, a slow answer, a huge body) or ``success``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.plan: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                hook.seen.append((self.path, self.headers.get("host", "")))
                status, headers, body, delay_s = hook.plan.get(self.path, (200, {}, b"success", 0))
                time.sleep(delay_s)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    try:
        yield h
    finally:
        h.close()


def _post(settings: Settings, url: str, resolver=outbound.system_resolver) -> outbound.Answer:
    with httpx.Client(timeout=outbound.timeouts(settings)) as client:
        return outbound.post_form(settings, client, url, {"a": "1"}, resolver)


def test_the_call_goes_to_the_checked_address_with_the_hosts_name(hook):
    """DNS rebinding: the name is resolved once, checked, and the connection made to that
    address; the Host header still names the merchant's host."""
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])  # a second lookup would get a private address
    answer = _post(ONLY_LOOPBACK, f"http://hooks.test:{hook.port}/n", lambda h, p: next(answers))
    assert answer.ok and answer.body == "success"
    assert hook.seen == [("/n", f"hooks.test:{hook.port}")]


def test_redirects_are_followed_only_to_allowed_addresses(hook):
    base = f"http://127.0.0.1:{hook.port}"
    hook.plan["/to-metadata"] = (302, {"location": "http://169.254.169.254/latest/"}, b"", 0)
    hook.plan["/to-private"] = (307, {"location": "http://10.0.0.1:8000/admin"}, b"", 0)
    hook.plan["/to-final"] = (302, {"location": "/final"}, b"", 0)
    hook.plan["/loop"] = (302, {"location": "/loop"}, b"", 0)
    refused = _post(ONLY_LOOPBACK, base + "/to-metadata")
    assert not refused.ok and refused.body.startswith("refused: notify_url resolves to a link")
    assert not _post(ONLY_LOOPBACK, base + "/to-private").ok
    followed = _post(ONLY_LOOPBACK, base + "/to-final")
    assert followed.ok and [path for path, _ in hook.seen][-2:] == ["/to-final", "/final"]
    looping = _post(ONLY_LOOPBACK, base + "/loop")
    assert not looping.ok and "redirects" in looping.body


def test_slow_and_huge_answers_are_bounded(hook):
    base = f"http://127.0.0.1:{hook.port}"
    hook.plan["/slow"] = (200, {}, b"success", 2.0)
    hook.plan["/huge"] = (200, {}, b"x" * 2_000_000, 0)
    quick = Settings(outbound_allow_private="127.0.0.1/32", outbound_timeout_s=0.3)
    start = time.monotonic()
    slow = _post(quick, base + "/slow")
    assert not slow.ok and "Timeout" in slow.body and time.monotonic() - start < 1.5
    huge = _post(quick, base + "/huge")
    assert huge.status == 200 and len(huge.body) == outbound.ANSWER_MAX_BYTES


def test_a_queued_notification_to_a_refused_address_is_not_sent(tmp_path, hook):
    """A task queued while the sandbox allowed 127.0.0.1 is checked again when sent: a platform
    that refuses private targets logs the refusal and sends nothing."""
    sandbox = open_platform(fast_settings(tmp_path))
    try:
        merchant, _ = members.create_merchant(sandbox, "Notify Shop")
        creds = apps.create_sandbox_app(sandbox, merchant["id"])
        buyer = new_user(sandbox, balance_fen=10_000)
        req = trades.TradeRequest(
            merchant["id"],
            "ssrf-1",
            "hook",
            1_000,
            app_id=creds["app_id"],
            notify_url=f"http://127.0.0.1:{hook.port}/notify",
        )
        trade = trades.create(sandbox, req, buyer)
        trades.pay(sandbox, trade["id"], buyer, PAY_PASSWORD)
    finally:
        sandbox.close()
    strict = open_platform(fast_settings(tmp_path, outbound_allow_private="false"))
    try:
        assert notify.deliver_due(strict) == {"delivered": 0, "failed": 1}
        [task] = notify.list_tasks(strict, trade_id=trade["id"])
        [attempt] = notify.attempts(strict, task["id"])
        assert attempt["detail"].startswith("refused: notify_url resolves to a loopback")
        assert hook.seen == []
    finally:
        strict.close()
