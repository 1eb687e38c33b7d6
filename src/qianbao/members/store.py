"""Members' SQL for sessions, API-key lifecycles, the revocation epoch and the login throttle
(the older member queries still live in ``service.py``)."""

from __future__ import annotations

from qianbao.platform.db import Row, Tx


def merchant_by_name(tx: Tx, name: str) -> Row | None:
    return tx.one("SELECT * FROM merchants WHERE name = :n", {"n": name})
