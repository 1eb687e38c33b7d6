"""``qianbao keys``: the data-at-rest keys (``platform/crypto.py``)."""

from __future__ import annotations

from typing import Any

import typer

from qianbao.members import vault as members_vault
from qianbao.openapi import apps
from qianbao.platform.crypto import new_kek_entry
from qianbao.platform.runtime import Platform
from qianbao.terminal import console, run, show

keys_app = typer.Typer(
    help="Keys of data at rest: rotate, status, a new KEK.", no_args_is_help=True
)


def rotate_and_reseal(p: Platform) -> dict[str, Any]:
    """A new data key, every data key re-wrapped under the newest KEK, then every sealed value
    (card numbers, the platform's RSA private keys) re-sealed under the new data key: after it
    the retired data keys and the old KEKs decrypt nothing still in use."""
    rotation = p.vault.rotate()
    return {
        "active_key": rotation.active_key,
        "retired_keys": ", ".join(rotation.retired_keys),
        "kek": rotation.kek_id,
        "data_keys_rewrapped": rotation.rewrapped,
        "cards_resealed": members_vault.reseal_cards(p),
        "private_keys_resealed": apps.reseal_private_keys(p),
    }


@keys_app.command("rotate")
def rotate() -> None:
    """Rotate the data key and re-wrap under the newest KEK (add a KEK to the ring first to
    retire the old one; remove the old one after this command)."""
    show("keys rotated", run(rotate_and_reseal))


@keys_app.command("status")
def status() -> None:
    """The active data key, the wrapping KEK and every data key (never the keys)."""
    stats = run(lambda p: p.vault.stats())
    show("data keys", {"active_key": stats["active_key"], "kek": stats["kek"]})
    for key in stats["keys"]:
        console.print(key)


@keys_app.command("new-kek")
def new_kek(kek_id: str) -> None:
    """Print a new KEK entry (id:base64) to append to the key file; nothing is stored."""
    console.print(new_kek_entry(kek_id))
