"""Open-platform statements added for data at rest (``apps.reseal_private_keys``)."""

from __future__ import annotations

from qianbao.platform.db import Row, Tx


def sealed_keys_page(tx: Tx, after_app_id: str, limit: int) -> list[Row]:
    return tx.all(
        "SELECT app_id, platform_private_key FROM open_apps WHERE app_id > :after"
        " ORDER BY app_id LIMIT :n",
        {"after": after_app_id, "n": limit},
    )


def set_private_key(tx: Tx, app_id: str, old: str, new: str) -> int:
    return tx.execute(
        "UPDATE open_apps SET platform_private_key = :new WHERE app_id = :a"
        " AND platform_private_key = :old",
        {"new": new, "a": app_id, "old": old},
    )


def set_notify_url(tx: Tx, app_id: str, notify_url: str) -> int:
    return tx.execute(
        "UPDATE open_apps SET notify_url = :u WHERE app_id = :a", {"u": notify_url, "a": app_id}
    )
