"""Envelope encryption of data at rest: AES-256-GCM (``cryptography``), never hand-rolled.

* A **key-encryption key** (KEK, 32 bytes) comes from configuration (``QIANBAO_KEK``) or a key
  file (``QIANBAO_KEK_FILE``); neither is stored in a database. A key ring holds several, each
  with an id: the last one wraps, the others only unwrap (a KEK being retired).
* **Data keys** (random, 32 bytes) encrypt the values. They live in the global table
  ``data_keys``, each wrapped by a KEK, never in clear. One data key is ACTIVE (it encrypts new
  values); RETIRED ones still decrypt until every value is re-encrypted.
* A value is sealed as ``enc1:<data key id>:<base64(nonce | ciphertext | tag)>`` with associated
  data that names where it belongs (``bank_cards:<user id>``): a ciphertext copied to another
  row or column does not decrypt.
* ``token`` is an HMAC-SHA256 under the **token key** (a data key of purpose TOKEN that is never
  replaced, only re-wrapped): a stable, keyed stand-in for a card number, so a card can be found
  and kept unique without its number in clear.
* ``rotate`` makes a new ACTIVE data key, retires the old one and re-wraps every data key under
  the newest KEK; the callers then re-encrypt their rows (``qianbao keys rotate`` does both).

Without a configured KEK a sandbox generates one into ``<data_dir>/keys/kek`` (mode 0600) on
first use; production mode must configure one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qianbao.platform.clock import clock
from qianbao.platform.db import Database, Tx
from qianbao.platform.errors import QianbaoError
from qianbao.platform.states import StateMachine

log = logging.getLogger("qianbao.crypto")
KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "enc1"
TOKEN_KEY_ID = "tk1"
FIRST_DATA_KEY_ID = "dk1"
DATA, TOKEN = "DATA", "TOKEN"
ACTIVE, RETIRED = "ACTIVE", "RETIRED"
DATA_KEY = StateMachine(
    "data key",
    "data_keys",
    {ACTIVE: {RETIRED}, RETIRED: set()},
    key="key_id",
    stamp=None,
    initial={ACTIVE},
)


class KeyUnavailable(QianbaoError):
    """A key is missing or wrong: the platform must not start (or decrypt) without it."""

    code = "KEY_UNAVAILABLE"
    http_status = 500


@dataclass(frozen=True)
class KeyRing:
    """KEKs by id; ``current`` wraps, every one unwraps."""

    keys: dict[str, bytes]
    current: str

    def kek(self, kek_id: str) -> bytes:
        try:
            return self.keys[kek_id]
        except KeyError:
            raise KeyUnavailable(f"key-encryption key {kek_id!r} is not configured") from None


def parse_keyring(text: str) -> KeyRing:
    """``id:base64`` entries separated by commas or new lines (``#`` comments); the last wraps."""
    keys: dict[str, bytes] = {}
    current = ""
    for raw in text.replace(",", "\n").splitlines():
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        kek_id, sep, encoded = entry.partition(":")
        key = _b64decode(encoded.strip()) if sep else b""
        if not kek_id.strip() or len(key) != KEY_BYTES:
            raise KeyUnavailable("a KEK entry must be id:base64 of 32 bytes")
        keys[kek_id.strip()] = key
        current = kek_id.strip()
    if not keys:
        raise KeyUnavailable("no key-encryption key configured")
    return KeyRing(keys, current)


def new_kek_entry(kek_id: str) -> str:
    return f"{kek_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def load_keyring(kek: str, kek_file: str, data_dir: Path) -> KeyRing:
    """From configuration, else a key file, else (sandbox) a generated ``<data_dir>/keys/kek``."""
    if kek:
        return parse_keyring(kek)
    path = Path(kek_file) if kek_file else data_dir / "keys" / "kek"
    if not path.exists():
        if kek_file:
            raise KeyUnavailable(f"KEK file {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(
                f"# generated for a sandbox; configure QIANBAO_KEK_FILE in production\n"
                f"{new_kek_entry('kek1')}\n"
            )
        log.warning("generated a sandbox key-encryption key in %s", path)
    return parse_keyring(path.read_text())


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return b""


def seal(key: bytes, plaintext: bytes, aad: bytes) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, aad)).decode()


def unseal(key: bytes, sealed: str, aad: bytes) -> bytes:
    raw = _b64decode(sealed)
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise KeyUnavailable("a sealed value does not decrypt with its key") from None


def _wrap_aad(key_id: str, purpose: str) -> bytes:
    return f"data_key:{key_id}:{purpose}".encode()


def insert_key(tx: Tx, ring: KeyRing, key_id: str, purpose: str, status: str) -> None:
    """A new random data key, wrapped by the current KEK (``ON CONFLICT``: another process won)."""
    wrapped = seal(
        ring.kek(ring.current), secrets.token_bytes(KEY_BYTES), _wrap_aad(key_id, purpose)
    )
    tx.execute(
        "INSERT INTO data_keys (key_id, purpose, kek_id, wrapped_key, status, created_at_ms)"
        " VALUES (:k, :p, :kek, :w, :s, :now) ON CONFLICT (key_id) DO NOTHING",
        {
            "k": key_id,
            "p": purpose,
            "kek": ring.current,
            "w": wrapped,
            "s": status,
            "now": clock.now_ms(),
        },
    )


@dataclass(frozen=True)
class Rotation:
    active_key: str
    retired_keys: list[str]
    rewrapped: int
    kek_id: str


class Keys:
    """Unwrapped data keys and which one is active: seal, open and tokenise values."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        self.keys = keys
        self.active = active

    def encrypt(self, plaintext: str, context: str) -> str:
        sealed = seal(self.keys[self.active], plaintext.encode(), context.encode())
        return f"{PREFIX}:{self.active}:{sealed}"

    def decrypt(self, value: str, context: str) -> str:
        prefix, _, rest = value.partition(":")
        key_id, _, sealed = rest.partition(":")
        if prefix != PREFIX or key_id not in self.keys:
            raise KeyUnavailable("not a sealed value of this platform's keys")
        return unseal(self.keys[key_id], sealed, context.encode()).decode()

    def token(self, value: str, purpose: str) -> str:
        """A keyed, stable stand-in for ``value`` (64 hex characters)."""
        key = self.keys[TOKEN_KEY_ID]
        return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _unwrap_all(ring: KeyRing, rows: list[Any]) -> Keys:
    keys = {
        r["key_id"]: unseal(
            ring.kek(r["kek_id"]), r["wrapped_key"], _wrap_aad(r["key_id"], r["purpose"])
        )
        for r in rows
    }
    active = [r["key_id"] for r in rows if r["purpose"] == DATA and r["status"] == ACTIVE]
    if len(active) != 1 or TOKEN_KEY_ID not in keys:
        raise KeyUnavailable(f"expected a token key and one active data key, found {active}")
    return Keys(keys, active[0])


def keys_for_migration(conn: Any, ring: KeyRing) -> Keys:
    """The keys a data migration seals with, on its own connection: the token key and the first
    data key are made here if missing (the same rows ``Vault.open`` would make)."""
    import sqlalchemy as sa

    rows = [dict(r) for r in conn.execute(sa.text("SELECT * FROM data_keys")).mappings()]
    have = {r["key_id"] for r in rows}
    for key_id, purpose in ((TOKEN_KEY_ID, TOKEN), (FIRST_DATA_KEY_ID, DATA)):
        if key_id in have or (purpose == DATA and any(r["purpose"] == DATA for r in rows)):
            continue
        row = {
            "key_id": key_id,
            "purpose": purpose,
            "kek_id": ring.current,
            "wrapped_key": seal(
                ring.kek(ring.current), secrets.token_bytes(KEY_BYTES), _wrap_aad(key_id, purpose)
            ),
            "status": ACTIVE,
            "created_at_ms": clock.now_ms(),
        }
        conn.execute(
            sa.text(
                "INSERT INTO data_keys (key_id, purpose, kek_id, wrapped_key, status,"
                " created_at_ms) VALUES (:key_id, :purpose, :kek_id, :wrapped_key, :status,"
                " :created_at_ms)"
            ),
            row,
        )
        rows.append(row)
    return _unwrap_all(ring, rows)


_installed: KeyRing | None = None


def install_keyring(ring: KeyRing) -> None:
    """The key ring of the platform being opened, for its migrations (they get no settings)."""
    global _installed
    _installed = ring


def migration_keyring() -> KeyRing:
    if _installed is not None:
        return _installed
    from qianbao.platform.settings import load_settings

    settings = load_settings()
    return load_keyring(settings.kek, settings.kek_file, settings.data_dir)


class Vault:
    """Data keys of one platform, unwrapped on first use and kept in memory."""

    def __init__(self, db: Database, ring: KeyRing) -> None:
        self.db = db
        self.ring = ring
        self._keys = Keys({}, "")

    def open(self) -> Vault:
        """Make the token key and the first data key if there are none; check every key unwraps
        (a missing KEK stops the start, not a payment)."""
        with self.db.transaction() as tx:
            insert_key(tx, self.ring, TOKEN_KEY_ID, TOKEN, ACTIVE)
            if tx.scalar("SELECT COUNT(*) AS n FROM data_keys WHERE purpose = 'DATA'") == 0:
                insert_key(tx, self.ring, FIRST_DATA_KEY_ID, DATA, ACTIVE)
        self._load()
        return self

    def _load(self) -> None:
        with self.db.read() as tx:
            rows = tx.all("SELECT * FROM data_keys ORDER BY created_at_ms, key_id")
        self._keys = _unwrap_all(self.ring, rows)  # one assignment: readers see old or new

    @property
    def active_key_id(self) -> str:
        return self._keys.active

    def encrypt(self, plaintext: str, context: str) -> str:
        return self._keys.encrypt(plaintext, context)

    def decrypt(self, value: str, context: str) -> str:
        key_id = value.split(":", 2)[1] if value.count(":") >= 2 else ""
        if key_id and key_id not in self._keys.keys:  # another process rotated: read the keys
            self._load()
        return self._keys.decrypt(value, context)

    def token(self, value: str, purpose: str) -> str:
        return self._keys.token(value, purpose)

    def reencrypt(self, value: str, context: str) -> str:
        """``value`` sealed under the active data key (unchanged if it already is)."""
        keys = self._keys
        if value.startswith(f"{PREFIX}:{keys.active}:"):
            return value
        return keys.encrypt(keys.decrypt(value, context), context)

    def rotate(self) -> Rotation:
        """A new active data key; every data key re-wrapped under the newest KEK."""
        with self.db.transaction() as tx:
            rows = tx.all("SELECT key_id, purpose, status FROM data_keys")
            numbers = [int(r["key_id"][2:]) for r in rows if r["purpose"] == DATA]
            new_id = f"dk{max(numbers, default=0) + 1}"
            retired = [r["key_id"] for r in rows if r["purpose"] == DATA and r["status"] == ACTIVE]
            DATA_KEY.move_all(tx, {"purpose": DATA}, ACTIVE, RETIRED)
            insert_key(tx, self.ring, new_id, DATA, ACTIVE)
            rewrapped = self._rewrap_all(tx)
        self._load()
        return Rotation(new_id, retired, rewrapped, self.ring.current)

    def _rewrap_all(self, tx: Tx) -> int:
        done = 0
        for r in tx.all("SELECT * FROM data_keys WHERE kek_id <> :kek", {"kek": self.ring.current}):
            aad = _wrap_aad(r["key_id"], r["purpose"])
            key = unseal(self.ring.kek(r["kek_id"]), r["wrapped_key"], aad)
            tx.execute(
                "UPDATE data_keys SET kek_id = :kek, wrapped_key = :w WHERE key_id = :k",
                {
                    "kek": self.ring.current,
                    "w": seal(self.ring.kek(self.ring.current), key, aad),
                    "k": r["key_id"],
                },
            )
            done += 1
        return done

    def stats(self) -> dict[str, Any]:
        with self.db.read() as tx:
            rows = tx.all("SELECT key_id, purpose, kek_id, status FROM data_keys ORDER BY key_id")
        return {
            "active_key": self._keys.active,
            "kek": self.ring.current,
            "keys": [dict(r) for r in rows],
        }
