"""Issue 11 item 4: card numbers and the platform's RSA private keys sealed at rest (AES-GCM,
envelope keys, rotation), only a token and the last four digits in clear; logs masked."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from qianbao.backoffice.cli import rotate_and_reseal
from qianbao.members import service as members
from qianbao.members import vault as members_vault
from qianbao.members.identity import make_card_no
from qianbao.openapi import apps, signing
from qianbao.payments import service as payments
from qianbao.platform import crypto
from qianbao.platform.db import Database
from qianbao.platform.logmask import mask
from qianbao.platform.migrations import alembic_config
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import PAY_PASSWORD, card_of, new_user


def _raw_bytes(data_dir: Path) -> bytes:
    """Every database file of the platform as stored on disk (WAL included); not bank.db, the
    bank simulator's own books (the bank knows its customers' card numbers)."""
    files = [*data_dir.glob("global.db*"), *data_dir.glob("unit*.db*")]
    return b"".join(f.read_bytes() for f in sorted(files) if f.is_file())


def test_a_card_number_is_nowhere_in_clear_and_still_pays(tmp_path):
    p = make_platform("sqlite", tmp_path)
    try:
        user = new_user(p, unit=0, balance_fen=0)
        number = make_card_no("622848000111222")
        card = members.bind_card(p, user, number)
        assert card["card_masked"] == f"**** {number[-4:]}" and card["card_last4"] == number[-4:]
        assert card["card_cipher"].startswith("enc1:") and number not in card["card_cipher"]
        assert members.public_card(card)["card"] == f"**** {number[-4:]}"
        again = members.bind_card(p, user, number)  # the token keeps it unique per user
        assert again["id"] == card["id"]
        first = payments.topup(p, user, card["id"], 12_345, "sealed-topup")
        replay = payments.topup(p, user, card["id"], 12_345, "sealed-topup")
        assert first["status"] == "SUCCEEDED" and replay["id"] == first["id"]
        assert payments.balance(p, user)["balance_fen"] == 12_345
        assert_ledger_clean(p)
    finally:
        p.close()
    raw = _raw_bytes(tmp_path)
    assert number.encode() not in raw
    assert raw  # the files were read


def test_a_sealed_value_opens_only_in_its_own_row(sqlite_platform):
    p = sqlite_platform
    sealed = p.vault.encrypt("6228480001112223", "bank_cards:1")
    assert p.vault.decrypt(sealed, "bank_cards:1") == "6228480001112223"
    with pytest.raises(crypto.KeyUnavailable):
        p.vault.decrypt(sealed, "bank_cards:2")  # copied to another user's row
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(crypto.KeyUnavailable):
        p.vault.decrypt(tampered, "bank_cards:1")


def test_the_platforms_rsa_private_keys_are_sealed_and_still_sign(sqlite_platform):
    p = sqlite_platform
    merchant, _ = members.create_merchant(p, "Sealed Keys Shop")
    creds = apps.ensure_sandbox_app(p, merchant["id"])
    row = apps.get_app(p, creds["app_id"])
    assert row["platform_private_key"].startswith("enc1:")
    assert "PRIVATE KEY" not in row["platform_private_key"]
    pem = apps.platform_private_key(p, row)
    assert "PRIVATE KEY" in pem
    signature = signing.sign_text(pem, "a=1&b=2")
    assert signing.verify_text(row["platform_public_key"], "a=1&b=2", signature)


def test_rotation_reseals_everything_and_a_new_kek_retires_the_old(tmp_path):
    kek1, kek2 = crypto.new_kek_entry("kek1"), crypto.new_kek_entry("kek2")
    p = make_platform("sqlite", tmp_path, kek=kek1)
    try:
        user = new_user(p, unit=1, balance_fen=10_000)
        merchant, _ = members.create_merchant(p, "Rotation Shop")
        app_id = apps.ensure_sandbox_app(p, merchant["id"])["app_id"]
        card = members.get_card(p, user, card_of(p, user))
        number = members_vault.card_number(p, card)
    finally:
        p.close()
    p = make_platform("sqlite", tmp_path, kek=f"{kek1},{kek2}")  # kek2 added: it wraps now
    try:
        report = rotate_and_reseal(p)
        assert report["active_key"] == "dk2" and report["retired_keys"] == "dk1"
        assert report["kek"] == "kek2" and report["data_keys_rewrapped"] == 2
        assert report["cards_resealed"] >= 1 and report["private_keys_resealed"] == 1
        assert rotate_and_reseal(p)["cards_resealed"] >= 1  # a second rotation: dk3
    finally:
        p.close()
    p = make_platform("sqlite", tmp_path, kek=kek2)  # the old KEK is gone for good
    try:
        card = members.get_card(p, user, card_of(p, user))
        assert card["card_cipher"].startswith("enc1:dk3:")
        assert members_vault.card_number(p, card) == number
        apps.platform_private_key(p, apps.get_app(p, app_id))
        payments.withdraw(p, user, card["id"], 1_000, "after-rotation", PAY_PASSWORD)
        assert_ledger_clean(p)
    finally:
        p.close()
    with pytest.raises(crypto.KeyUnavailable):  # without its KEK the platform does not start
        make_platform("sqlite", tmp_path, kek=crypto.new_kek_entry("other"))


def test_the_migration_seals_the_rows_that_were_in_clear(tmp_path):
    url = f"sqlite:///{tmp_path / 'global.db'}"
    cfg = alembic_config("global", Database(url))
    for revision in ("global_0001", "trades_g0001"):
        command.upgrade(cfg, revision)
    number = make_card_no("622202000333444")
    pem, public = signing.new_key_pair()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO bank_cards (id, user_id, channel, card_no, card_masked, status,"
                " created_at_ms) VALUES ('c100', 'u100', 'SIMBANK', :n, '6222 **** 4445',"
                " 'BOUND', 1)"
            ),
            {"n": number},
        )
        conn.execute(
            sa.text(
                "INSERT INTO open_apps (app_id, merchant_id, name, app_public_key,"
                " platform_private_key, platform_public_key, notify_url, status, created_at_ms)"
                " VALUES ('2088000', 'm100', 'Old App', :pub, :pem, :pub, '', 'ACTIVE', 1)"
            ),
            {"pem": pem, "pub": public},
        )
    ring = crypto.parse_keyring(crypto.new_kek_entry("kek1"))
    crypto.install_keyring(ring)
    command.upgrade(cfg, "heads")
    with engine.connect() as conn:
        card = conn.execute(sa.text("SELECT * FROM bank_cards")).mappings().one()
        app = conn.execute(sa.text("SELECT * FROM open_apps")).mappings().one()
    engine.dispose()
    assert "card_no" not in card and card["card_masked"] == f"**** {number[-4:]}"
    vault = crypto.Vault(Database(url), ring).open()
    assert vault.decrypt(card["card_cipher"], "bank_cards:u100") == number
    assert card["card_token"] == vault.token(number, "card")
    assert vault.decrypt(app["platform_private_key"], "open_apps:2088000") == pem
    assert number.encode() not in (tmp_path / "global.db").read_bytes()


def test_logs_mask_card_numbers_id_numbers_and_private_keys(sqlite_platform, caplog):
    log = logging.getLogger("qianbao.test")
    number = make_card_no("622848000111222")
    with caplog.at_level(logging.INFO):
        log.info("charge card %s for order 179621934232995417", number)
        log.info("user id number 110101199003070011 and card 6222 0212 3456 7897")
        log.info("key -----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY----- done")
    text = caplog.text
    assert number not in text and f"************{number[-4:]}" in text
    assert "179621934232995417" in text  # our own ids stay readable
    assert "110101199003070011" not in text and "0011" in text
    assert "PRIVATE KEY" not in text and "MIIabc" not in text
    assert mask("amount 12345 fen") == "amount 12345 fen"
