"""What the security layer costs per request, beside the same request without it (same run).

    python bench/security_overhead.py [--requests 20000]

1. The door's security step (headers, CSRF cookie on pages) around a trivial endpoint,
   against the bare endpoint: microseconds added per request.
2. Authenticating a user token and an API key from the per-process caches (with the revocation
   epoch looked at once a second), against an uncached check (one global read each), and the
   epoch look itself.

Prints one table and writes bench/results/security_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform as host
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.conftest import fast_settings
from tests.factories import LOGIN_PASSWORD, new_user

from qianbao.api.security import PageSecurity
from qianbao.bootstrap import open_platform
from qianbao.members import credentials, revocation, sessions
from qianbao.members import service as members
from qianbao.platform.settings import Settings


async def _plain(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x", b"1")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _secured(app: Any, settings: Settings) -> Any:
    """``app`` behind the door's security step (``PageSecurity``) alone."""
    security = PageSecurity(settings)

    async def secured(scope: Any, receive: Any, send: Any) -> None:
        kind, fresh = security.prepare(scope)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                security.decorate(message, kind, fresh)
            await send(message)

        await app(scope, receive, send_with_headers)

    return secured


def _asgi_us(app: Any, path: str, n: int) -> float:
    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    async def loop() -> float:
        start = time.perf_counter()
        for _ in range(n):
            await app(dict(scope), receive, send)
        return (time.perf_counter() - start) / n * 1e6

    return asyncio.run(loop())


def _per_call_us(fn: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    n = parser.parse_args().requests
    rows: list[tuple[str, float, str, float]] = []
    wrapped = _secured(_plain, Settings())
    bare = _asgi_us(_plain, "/api/v1/payments", n)
    rows.append(
        (
            "API request + middleware",
            _asgi_us(wrapped, "/api/v1/payments", n),
            "bare ASGI endpoint",
            bare,
        )
    )
    rows.append(
        (
            "page request + middleware (new CSRF cookie)",
            _asgi_us(wrapped, "/merchant", n),
            "bare ASGI endpoint",
            bare,
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        p = open_platform(fast_settings(Path(tmp)))
        try:
            user = new_user(p)
            _, key = members.create_merchant(p, "Bench Shop")
            token, _ = members.login(p, members.get_user(p, user)["phone"], LOGIN_PASSWORD)

            def uncached_token() -> None:
                p.token_cache.clear()
                sessions.user_for_token(p, token)

            def uncached_key() -> None:
                p.key_cache.clear()
                credentials.owner_of_key(p, key)

            def epoch_look() -> None:
                p.revocation_state[0] = -(10**12)
                revocation.refresh(p)

            m = max(n // 10, 100)
            rows.append(
                (
                    "user token, cached",
                    _per_call_us(lambda: sessions.user_for_token(p, token), n),
                    "user token, one global read",
                    _per_call_us(uncached_token, m),
                )
            )
            rows.append(
                (
                    "API key, cached",
                    _per_call_us(lambda: credentials.owner_of_key(p, key), n),
                    "API key, one global read",
                    _per_call_us(uncached_key, m),
                )
            )
            rows.append(
                (
                    "revocation epoch look (once a second)",
                    _per_call_us(epoch_look, m),
                    "user token, one global read",
                    _per_call_us(uncached_token, m),
                )
            )
        finally:
            p.close()
    table = Table(title=f"Security overhead per request ({host.node()}, {n} requests)")
    for col in ("measured", "µs", "reference (same run)", "µs ", "ratio"):
        table.add_column(col)
    results = []
    for name, us, ref_name, ref_us in rows:
        table.add_row(name, f"{us:.2f}", ref_name, f"{ref_us:.2f}", f"{us / ref_us:.2f}×")
        results.append(
            {
                "measured": name,
                "us": round(us, 3),
                "reference": ref_name,
                "reference_us": round(ref_us, 3),
                "ratio": round(us / ref_us, 3),
            }
        )
    Console().print(table)
    out = ROOT / "bench" / "results" / "security_overhead.json"
    out.write_text(
        json.dumps(
            {"machine": host.node(), "cpus": host.machine(), "requests": n, "results": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
