"""Open-platform apps: registered by a merchant with the app's RSA public key; the platform
keeps a key pair per app and signs its responses and notifications with it."""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm

from qianbao.members import service as members
from qianbao.openapi import outbound, queries, signing
from qianbao.openapi.errors import AppKeyInvalid, AppNameInvalid, AppNotFound
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.errors import NotFound
from qianbao.platform.runtime import Platform


def create_app(
    p: Platform,
    merchant_id: str,
    name: str,
    app_public_key_pem: str,
    notify_url: str = "",
    app_id: str | None = None,
) -> Row:
    members.get_merchant(p, merchant_id)
    check_app_public_key(app_public_key_pem)
    if not 2 <= len(name.strip()) <= 80:
        raise AppNameInvalid("app name must be 2–80 characters")
    notify_url = outbound.checked_notify_url(p.settings, notify_url)
    app_id = app_id or "2088" + "".join(str(secrets.randbelow(10)) for _ in range(12))
    private, public = signing.new_key_pair()
    with p.global_db.transaction() as tx:
        tx.execute(
            "INSERT INTO open_apps (app_id, merchant_id, name, app_public_key,"
            " platform_private_key, platform_public_key, notify_url, status, created_at_ms)"
            " VALUES (:a, :m, :n, :apk, :ppriv, :ppub, :url, 'ACTIVE', :now)",
            {
                "a": app_id,
                "m": merchant_id,
                "n": name.strip(),
                "apk": app_public_key_pem,
                "ppriv": p.vault.encrypt(private, key_context(app_id)),  # sealed at rest
                "ppub": public,
                "url": notify_url,
                "now": clock.now_ms(),
            },
        )
    return get_app(p, app_id)


PEM_MAX_CHARS = 4_000


def check_app_public_key(pem: str) -> None:
    """The merchant's own RSA public key (≥ 2048 bits, PEM); a private key is refused, never
    kept: the platform holds no merchant's private key outside the sandbox."""
    if "PRIVATE KEY" in pem:
        raise AppKeyInvalid("this is a private key: upload only the public key, keep the private")
    if not pem.strip() or len(pem) > PEM_MAX_CHARS:
        raise AppKeyInvalid(f"app public key must be a PEM of at most {PEM_MAX_CHARS} characters")
    try:
        signing.load_public(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise AppKeyInvalid(f"app public key: {exc}") from None


def set_notify_url(p: Platform, merchant_id: str, app_id: str, notify_url: str) -> Row:
    """The merchant's own app's notify URL, checked by the SSRF guard ('' clears it)."""
    app = get_app(p, app_id)
    if app["merchant_id"] != merchant_id:
        raise AppNotFound("no such app")
    url = outbound.checked_notify_url(p.settings, notify_url.strip())
    with p.global_db.transaction() as tx:
        queries.set_notify_url(tx, app_id, url)
    return get_app(p, app_id)


def key_context(app_id: str) -> str:
    return f"open_apps:{app_id}"


def platform_private_key(p: Platform, app: Row) -> str:
    """The platform's RSA private key of ``app`` (PEM), opened from its sealed form to sign."""
    pem: str = p.vault.decrypt(str(app["platform_private_key"]), key_context(str(app["app_id"])))
    return pem


def reseal_private_keys(p: Platform, page: int = 500) -> int:
    """Every app's private key sealed under the active data key (after a rotation)."""
    after, done = "", 0
    while True:
        with p.global_db.transaction() as tx:
            rows = queries.sealed_keys_page(tx, after, page)
            for r in rows:
                old = str(r["platform_private_key"])
                new = p.vault.reencrypt(old, key_context(str(r["app_id"])))
                if new != old:
                    done += queries.set_private_key(tx, str(r["app_id"]), old, new)
        if len(rows) < page:
            return done
        after = str(rows[-1]["app_id"])


def get_app(p: Platform, app_id: str) -> Row:
    with p.global_db.read() as tx:
        row = tx.one("SELECT * FROM open_apps WHERE app_id = :a", {"a": app_id})
    if row is None:
        raise AppNotFound("no such app")
    return dict(row)


def list_apps(p: Platform, merchant_id: str) -> list[Row]:
    with p.global_db.read() as tx:
        return [
            dict(r)
            for r in tx.all(
                "SELECT * FROM open_apps WHERE merchant_id = :m ORDER BY created_at_ms",
                {"m": merchant_id},
            )
        ]


def public_app(row: Row) -> dict[str, Any]:
    return {
        "app_id": row["app_id"],
        "merchant_id": row["merchant_id"],
        "name": row["name"],
        "notify_url": row["notify_url"],
        "status": row["status"],
        "platform_public_key": row["platform_public_key"],
    }


def create_sandbox_app(p: Platform, merchant_id: str, name: str = "Sandbox app") -> dict[str, str]:
    """Demo data: an app whose private key the platform also generates and hands out, so a
    developer can call the gateway at once. Never do this for a real merchant."""
    app_private, app_public = signing.new_key_pair()
    app = create_app(p, merchant_id, name, app_public)
    return {
        "app_id": app["app_id"],
        "merchant_id": merchant_id,
        "app_private_key": app_private,
        "platform_public_key": app["platform_public_key"],
    }


def ensure_sandbox_app(p: Platform, merchant_id: str) -> dict[str, str]:
    """The sandbox app's credentials, kept in ``<data_dir>/sandbox-app.json`` (mode 0600)."""
    path = p.settings.data_dir / "sandbox-app.json"
    if path.exists():
        creds: dict[str, str] = json.loads(path.read_text())
        try:
            get_app(p, creds["app_id"])
            return creds
        except NotFound:
            pass
    creds = create_sandbox_app(p, merchant_id)
    path.write_text(json.dumps(creds, indent=2))
    os.chmod(path, 0o600)
    return creds
