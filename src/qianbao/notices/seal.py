"""Secret parameters of a notice (a one-time code) are sealed at rest with AES-GCM under a key
derived from the platform's secret, and wiped once the notice is delivered."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_LABEL = b"qianbao/notices/seal/v1:"


def _key(secret_key: str) -> bytes:
    return hashlib.sha256(_LABEL + secret_key.encode()).digest()


def seal(secret_key: str, notice_id: str, values: dict[str, Any]) -> str | None:
    if not values:
        return None
    nonce = os.urandom(12)
    data = json.dumps(values, sort_keys=True).encode()
    box = AESGCM(_key(secret_key)).encrypt(nonce, data, notice_id.encode())
    return base64.b64encode(nonce + box).decode()


def unseal(secret_key: str, notice_id: str, sealed: str | None) -> dict[str, Any]:
    if not sealed:
        return {}
    raw = base64.b64decode(sealed)
    data = AESGCM(_key(secret_key)).decrypt(raw[:12], raw[12:], notice_id.encode())
    values: dict[str, Any] = json.loads(data)
    return values
