"""Flow control under a flood (issue 12 item 3): one user floods the payment endpoint while
other users pay at a steady pace; the flooder gets 429s and the others' p99 stays near the
unloaded figure, both measured in the same run against the same server process.

    python bench/peak.py [--seconds 10] [--payers 8] [--flood-threads 4]

Starts ``qianbao serve`` (the embedded default: SQLite WAL synchronous=FULL, one process) on
127.0.0.1 with ``flow_limits=user=<--user-limit>``; then

* ``unloaded``: ``--payers`` users, one thread each, pay a merchant every ``--pace-ms``
  (password-free, from balance) for ``--seconds``;
* ``flooded``: the same load plus ``--flood-threads`` threads paying as fast as they can as
  one more user (keep-alive connections, no pause) for ``--seconds``.

Bounded: fixed threads, fixed duration, every request with a timeout. Prints a table and writes
bench/results/peak.json (``unloaded_p99_ms``, ``flooded_p99_ms``, ``flood_rejected_ratio``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import yaml  # noqa: E402
from bench.cluster import FAST, free_port, seed, stop  # noqa: E402
from bench.payments import machine  # noqa: E402

from qianbao.bootstrap import open_platform  # noqa: E402
from qianbao.cluster.local import wait_port  # noqa: E402
from qianbao.platform.settings import Settings  # noqa: E402
from qianbao.risk import rules as risk_rules  # noqa: E402

RESULT = ROOT / "bench" / "results" / "peak.json"


def p99_ms(samples_s: list[float]) -> float:
    ordered = sorted(samples_s)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1)


def pay(client: httpx.Client, token: str, merchant: str) -> int:
    body = {"merchant_id": merchant, "amount_fen": 1, "request_id": uuid.uuid4().hex}
    answer = client.post(
        "/api/v1/payments", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code


def steady(url: str, token: str, merchant: str, until: float, pace_s: float, out: list) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < until:
            started = time.monotonic()
            status = pay(client, token, merchant)
            out.append((time.monotonic() - started, status))
            time.sleep(max(0.0, pace_s - (time.monotonic() - started)))


def flood(url: str, token: str, merchant: str, until: float, out: list) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < until:
            out.append(pay(client, token, merchant))


def flood_process(
    url: str, token: str, merchant: str, until: float, args: argparse.Namespace
) -> list[int]:
    out: list[int] = []
    threads = [
        threading.Thread(target=flood, args=(url, token, merchant, until, out))
        for _ in range(args.flood_threads)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def phase(
    url: str, data: dict[str, Any], args: argparse.Namespace, flooded: bool, pool: Any
) -> dict:
    until = time.monotonic() + args.seconds
    steady_out: list[tuple[float, int]] = []
    flood_out: list[int] = []
    tokens, merchant = data["tokens"], data["merchant"]
    threads = [
        threading.Thread(
            target=steady, args=(url, t, merchant, until, args.pace_ms / 1000, steady_out)
        )
        for t in tokens[1:]
    ]
    flooder = None
    if flooded:  # its own process: the flood must not take this process's GIL from the steady
        flooder = pool.apply_async(flood_process, (url, tokens[0], merchant, until, args))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if flooder is not None:
        flood_out = flooder.get(timeout=args.seconds + 60)
    latencies = [s for s, status in steady_out if status == 200]
    return {
        "steady_requests": len(steady_out),
        "steady_ok": len(latencies),
        "steady_p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "steady_p99_ms": p99_ms(latencies) if latencies else None,
        "flood_requests": len(flood_out),
        "flood_429": sum(s == 429 for s in flood_out),
        "flood_ok": sum(s == 200 for s in flood_out),
        "steady_statuses": {str(k): v for k, v in Counter(s for _, s in steady_out).items()},
    }


def bench_rules(data_dir: Path) -> Path:
    """The risk rules with the per-user and per-merchant bursts raised out of the way: a real
    flooder would be challenged by risk control too; this bench measures flow control alone."""
    rules = yaml.safe_load(risk_rules.DEFAULT_PATH.read_text())
    for rule in rules["rules"]:
        if rule["id"] in ("user_burst_1m", "merchant_burst_1m", "user_sum_1h"):
            rule["above"] = 10**12
    path = data_dir / "bench-rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    config = data_dir / "qianbao.toml"
    config.write_text(f'[extra.risk]\nrules_path = "{path}"\nmodel = false\n')
    return config


def serve(data_dir: Path, user_limit: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "QIANBAO_CONFIG": str(bench_rules(data_dir)),
        "QIANBAO_DATA_DIR": str(data_dir),
        "QIANBAO_PASSWORD_TIME_COST": "1",
        "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
        "QIANBAO_FLOW_LIMITS": f"user={user_limit}",
        "QIANBAO_LOG_REQUESTS": "false",
        "PYTHONPATH": str(ROOT / "src"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "qianbao.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "server.log").open("w"),
    )
    wait_port("127.0.0.1", port, proc.pid, 120, "qianbao serve")
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--payers", type=int, default=8, help="steady users (+1 flooder)")
    parser.add_argument("--pace-ms", type=float, default=100.0, help="each steady user's pace")
    parser.add_argument("--flood-threads", type=int, default=4)
    parser.add_argument("--user-limit", default="10/20", help="flow limit per user")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qb-peak-"))
    p = open_platform(Settings(data_dir=root, **FAST))  # type: ignore[arg-type]
    data = seed(args.payers + 1)(p)
    p.close()
    proc, url = serve(root, args.user_limit)
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            unloaded = phase(url, data, args, False, pool)
            flooded = phase(url, data, args, True, pool)
    finally:
        stop([proc.pid])
    result = {
        "unloaded_p99_ms": unloaded["steady_p99_ms"],
        "flooded_p99_ms": flooded["steady_p99_ms"],
        "flood_rejected_ratio": round(flooded["flood_429"] / max(1, flooded["flood_requests"]), 4),
        "p99_ratio": round((flooded["steady_p99_ms"] or 0) / (unloaded["steady_p99_ms"] or 1), 2),
        "unloaded": unloaded,
        "flooded": flooded,
        "machine": machine() | {"load_average_at_end": os.getloadavg()},
        "settings": {
            "seconds": args.seconds,
            "steady_users": args.payers,
            "pace_ms": args.pace_ms,
            "flood_threads": args.flood_threads,
            "flow_limits": f"user={args.user_limit}",
            "server": "qianbao serve, one process, SQLite WAL synchronous=FULL",
            "risk": "default rules with user_burst_1m, user_sum_1h, merchant_burst_1m raised",
        },
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{'phase':<10} {'steady req':>10} {'p50 ms':>8} {'p99 ms':>8} {'flood req':>10} {'429':>7}"
    )
    for name, r in (("unloaded", unloaded), ("flooded", flooded)):
        print(
            f"{name:<10} {r['steady_requests']:>10} {r['steady_p50_ms']!s:>8}"
            f" {r['steady_p99_ms']!s:>8} {r['flood_requests']:>10} {r['flood_429']:>7}"
        )
    print(
        f"p99 flooded / unloaded = {result['p99_ratio']} (target <= 2); "
        f"flood rejected ratio {result['flood_rejected_ratio']}; written to {RESULT}"
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
