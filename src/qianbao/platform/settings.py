"""Settings from environment variables (``QIANBAO_*``) and an optional ``qianbao.toml``.

Environment variables win over the file; the file wins over the defaults. Every limit of the
platform (batch sizes, queue lengths, fees, limits) is a setting with a default here.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "qianbao-dev-secret-change-me"


@dataclass(frozen=True)
class Settings:
    # "sandbox" (the default: demo data, the bank simulator, private webhook targets allowed)
    # or "production" (refuses to start on anything a sandbox tolerates: platform/modes.py).
    env: str = "sandbox"
    data_dir: Path = Path("var")
    # Units (LDC). ``unit_urls`` empty means one SQLite file per unit under ``data_dir``.
    unit_count: int = 2
    unit_urls: tuple[str, ...] = ()
    global_url: str = ""
    # Distributed mode (issue 13, docs/decisions/0400): the units this process owns (empty = all
    # units, the embedded default; in distributed mode, i.e. ``unit_endpoints`` set, empty means
    # none: an access-layer process), each unit process's command endpoint, and the route table
    # bucket -> unit as ranges ``"0-49:0,50-99:1"`` (empty = the even split by unit count).
    owned_units: tuple[int, ...] = ()
    unit_endpoints: tuple[str, ...] = ()
    route_table: str = ""
    unit_connect_timeout_ms: int = 1_000
    unit_timeout_ms: int = 15_000
    unit_retry_after_s: int = 2
    # a command whose unit is away (not reachable, or answering 421/503: nothing applied) is
    # sent again for this long before the caller hears 503 (a unit restarting, failing over)
    unit_retry_window_ms: int = 1_500
    # ``relay_transport`` "memory" hands messages to the destination writer (in this process, or
    # a unit process's over HTTP); "nats" sends them through NATS JetStream at ``nats_url``
    # (platform/broker.py, ADR 0410).
    relay_transport: str = "memory"
    nats_url: str = "nats://127.0.0.1:4222"
    # Write path: group commit per unit.
    writer_batch_max: int = 512
    writer_wait_ms: float = 2.0
    writer_queue_max: int = 20_000
    writer_timeout_ms: int = 10_000
    sqlite_synchronous: str = "FULL"
    # How often CPython hands the GIL to another thread. The default 5 ms makes a unit writer
    # that returns from an fsync wait behind busy request threads; 0.5 ms keeps it moving.
    gil_switch_interval_ms: float = 0.5
    # The cyclic garbage collector's first-generation threshold (0 keeps CPython's 700). Every
    # payment allocates a few hundred short-lived objects; at 700 a full collection of the
    # older generations comes often enough to stall the writers (p99 of an in-process payment
    # ~120 ms at load, ~60 ms with 50,000 and the startup objects frozen: bench/payments.py).
    gc_gen0_threshold: int = 50_000
    # Relay of transactional messages.
    relay_interval_ms: int = 50
    message_checkback_after_s: int = 30
    message_max_attempts: int = 20  # then DEAD: an operator looks, fixes, requeues
    nats_stream: str = "QIANBAO"
    # A published message not confirmed by the destination's inbox within this is published
    # again (the broker is never the only copy).
    broker_republish_after_s: float = 10.0
    # Credentials. ``secret_key`` keys the hashes of ID numbers; set it in production.
    secret_key: str = DEFAULT_SECRET_KEY
    password_time_cost: int = 3
    password_memory_kib: int = 65_536
    password_max_failures: int = 5
    password_lock_minutes: int = 180
    token_ttl_minutes: int = 24 * 60
    # Fees and limits.
    merchant_fee_rate: Decimal = Decimal("0.006")
    withdraw_fee_rate: Decimal = Decimal("0.001")
    withdraw_free_quota_fen: int = 2_000_000
    withdraw_min_fee_fen: int = 10
    max_amount_fen: int = 100_000_000_000
    # Sessions and keys (members/sessions.py, members/credentials.py). Every process re-reads
    # the global revocation epoch at most this often, so a revoked credential is refused
    # everywhere within it; a rotated API key keeps working for the overlap window.
    revocation_check_ms: int = 1_000
    api_key_overlap_minutes: int = 24 * 60
    sessions_per_user_max: int = 20
    # Login throttle (members/throttle.py): free tries, then a delay doubling per failure up to
    # the cap, per phone and client address, per client address, and per phone (a device that
    # logged in to the phone before skips the per-phone delay, so a stranger cannot lock its
    # owner out).
    login_free_failures: int = 3
    login_ip_free_failures: int = 20
    login_phone_free_failures: int = 10
    login_delay_base_ms: int = 1_000
    login_delay_max_ms: int = 15 * 60_000
    login_failure_window_minutes: int = 60
    # Reverse proxies / load balancers (CIDRs) whose X-Forwarded-For names the client: without
    # them every client behind a balancer would share one address in the login throttle.
    trusted_proxies: tuple[str, ...] = ()
    # Step-up one-time codes (members/stepup.py) for a login from a new device, binding a card
    # and payments from ``step_up_payment_fen``: "" (on in production, off in the sandbox),
    # "true" or "false". A code answered grants its purpose once within the grant minutes.
    step_up_codes: str = ""
    step_up_payment_fen: int = 500_000
    step_up_grant_minutes: int = 5
    # Outbound calls (openapi/outbound.py): merchant webhooks. Private, loopback and link-local
    # targets are refused unless allowed: "" (the sandbox allows all, production none), "true",
    # "false", or the networks allowed ("127.0.0.1/32,10.8.0.0/16").
    outbound_allow_private: str = ""
    outbound_timeout_s: float = 5.0
    # Bank channel. The only implemented one is the simulator: a production start must name it
    # explicitly (``bank_channel = "simulator"``); the sandbox uses it by default.
    bank_channel: str = ""
    # Bank simulator.
    bank_latency_ms: float = 0.0
    bank_failure_rate: float = 0.0
    bank_timeout_rate: float = 0.0
    bank_seed: int | None = None
    bank_sandbox_open_balance_fen: int = 10_000_000
    # Flow control (platform/flow.py, ADR 0940): NAME=RATE/BURST per process, NAME one of user,
    # app, ip, payee, merchant or "route:POST /api/v1/prefix"; operators override them at run
    # time (platform/controls.py), re-read every flow_refresh_ms. At most flow_max_in_flight
    # requests at once in one process (0: no bound).
    flow_limits: str = "user=100/200,app=1000/2000"
    flow_max_in_flight: int = 512
    flow_refresh_ms: int = 1_000
    flow_keys_max: int = 100_000
    # Circuit breakers (platform/breaker.py, ADR 0941) around every outside call: open after
    # breaker_failures failures or timeouts within breaker_window_s, fail fast for breaker_open_s,
    # then let one probe through. Each call waits at most its timeout.
    breaker_failures: int = 20
    breaker_window_s: float = 10.0
    breaker_open_s: float = 5.0
    breaker_calls_max: int = 32
    bank_call_timeout_s: float = 2.0
    # The bank simulator: a call it times out takes this long before failing (a real network
    # timeout is slow; 0 fails at once).
    bank_hang_ms: float = 0.0
    # Degradation: how old the activity index may be while served stale (switch activity.stale).
    activity_stale_s: int = 300
    # Server.
    host: str = "127.0.0.1"
    port: int = 8000
    # one JSON access line per request (request id, caller, unit, command); off: only the slow
    # and the failed ones
    log_requests: bool = True
    timezone: str = "Asia/Shanghai"
    # The score: at most one credit application per user in this many days (issue 11 item 8).
    score_application_period_days: int = 30
    # Data at rest (platform/crypto.py): the key-encryption key ring, "id:base64" entries (the
    # last wraps), or a file of them; neither set: a sandbox key in <data_dir>/keys/kek.
    kek: str = field(default="", repr=False)
    kek_file: str = ""
    # Operators: approvals need a one-time password even from operators who never enrolled.
    operator_otp_required: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def allow_private_targets(self) -> bool:
        """Webhooks to any private, loopback and link-local address: the sandbox's default
        (``outbound_allow_private`` may instead name networks, ``10.1.0.0/16,127.0.0.1/32``)."""
        if self.outbound_allow_private:
            return self.outbound_allow_private.strip().lower() in ("1", "true", "yes", "on")
        return not self.production

    @property
    def step_up_enabled(self) -> bool:
        if self.step_up_codes:
            return self.step_up_codes.strip().lower() in ("1", "true", "yes", "on")
        return self.production

    @property
    def global_database_url(self) -> str:
        return self.global_url or f"sqlite:///{self.data_dir / 'global.db'}"

    def unit_database_url(self, unit: int) -> str:
        if self.unit_urls:
            return self.unit_urls[unit]
        return f"sqlite:///{self.data_dir / f'unit{unit}.db'}"

    @property
    def bank_database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'bank.db'}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _coerce(kind: Any, raw: Any) -> Any:
    text = str(kind)
    if isinstance(raw, str):
        if text.startswith("bool"):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if "tuple[int" in text:
            return tuple(int(part) for part in raw.split(",") if part.strip())
        if "tuple" in text:
            parts = tuple(part.strip() for part in raw.split(",") if part.strip())
            return tuple(int(part) for part in parts) if "tuple[int" in text else parts
        if "Path" in text:
            return Path(raw)
        if "Decimal" in text:
            return Decimal(raw)
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
        if "int | None" in text:
            return int(raw) if raw else None
        return raw
    if "tuple" in text:
        return tuple(raw)
    if "Decimal" in text:
        return Decimal(str(raw))
    if "Path" in text:
        return Path(raw)
    return raw


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then ``qianbao.toml`` (``QIANBAO_CONFIG``), then ``QIANBAO_*``, then overrides."""
    values: dict[str, Any] = {}
    path = config_file or Path(os.environ.get("QIANBAO_CONFIG", "qianbao.toml"))
    known = {f.name: f.type for f in fields(Settings)}
    if path.exists():
        for key, raw in tomllib.loads(path.read_text()).items():
            if key not in known:
                raise ValueError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(known[key], raw)
    for key, kind in known.items():
        env = os.environ.get(f"QIANBAO_{key.upper()}")
        if env is not None:
            values[key] = _coerce(kind, env)
    values.update(overrides)
    return Settings(**values)
