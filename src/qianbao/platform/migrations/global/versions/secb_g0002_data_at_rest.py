"""security (issue 11): data at rest. Data keys; card numbers sealed (a token and the last four
digits in clear), on cards and in the channel journal; the platform's RSA private keys sealed.
Existing rows are converted here.

Revision ID: secb_g0002
Revises: secb_g0001
Create Date: 2026-12-02 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from qianbao.platform import crypto

revision: str = "secb_g0002"
down_revision: str | Sequence[str] | None = "secb_g0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("global_0001", "trades_g0001", "channels_g0001")


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("kek_id", sa.String(length=40), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("bank_cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("card_last4", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("card_cipher", sa.Text(), nullable=True))
    bind = op.get_bind()
    keys = crypto.keys_for_migration(bind, crypto.migration_keyring())
    _seal_cards(bind, keys)
    _seal_private_keys(bind, keys)
    with op.batch_alter_table("channel_requests", schema=None) as batch_op:
        batch_op.alter_column(
            "account_no", existing_type=sa.String(length=40), type_=sa.Text(), nullable=False
        )
    _seal_journal(bind, keys)
    with op.batch_alter_table("bank_cards", schema=None) as batch_op:
        batch_op.drop_constraint("uq_bank_cards_user_card", type_="unique")
        batch_op.drop_column("card_no")
        batch_op.alter_column("card_token", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("card_last4", existing_type=sa.String(length=4), nullable=False)
        batch_op.alter_column("card_cipher", existing_type=sa.Text(), nullable=False)
        batch_op.create_unique_constraint("uq_bank_cards_user_token", ["user_id", "card_token"])


def _seal_cards(bind: sa.Connection, keys: crypto.Keys) -> None:
    rows = bind.execute(sa.text("SELECT id, user_id, card_no FROM bank_cards")).mappings().all()
    for r in rows:
        number = str(r["card_no"])
        bind.execute(
            sa.text(
                "UPDATE bank_cards SET card_token = :t, card_last4 = :l, card_cipher = :c,"
                " card_masked = :m WHERE id = :id"
            ),
            {
                "t": keys.token(number, "card"),
                "l": number[-4:],
                "c": keys.encrypt(number, f"bank_cards:{r['user_id']}"),
                "m": f"**** {number[-4:]}",
                "id": r["id"],
            },
        )


def _seal_private_keys(bind: sa.Connection, keys: crypto.Keys) -> None:
    rows = bind.execute(sa.text("SELECT app_id, platform_private_key FROM open_apps")).mappings()
    for r in rows.all():
        pem = str(r["platform_private_key"])
        if pem.startswith(crypto.PREFIX + ":"):
            continue
        bind.execute(
            sa.text("UPDATE open_apps SET platform_private_key = :k WHERE app_id = :id"),
            {"k": keys.encrypt(pem, f"open_apps:{r['app_id']}"), "id": r["app_id"]},
        )


def _seal_journal(bind: sa.Connection, keys: crypto.Keys) -> None:
    """The card numbers the channel journal kept of every bank request (channels/journal.py)."""
    rows = bind.execute(
        sa.text("SELECT channel, request_id, account_no FROM channel_requests")
    ).mappings()
    for r in rows.all():
        number = str(r["account_no"])
        if not number or number.startswith(crypto.PREFIX + ":"):
            continue
        context = f"channel_requests:{r['channel']}:{r['request_id']}"
        bind.execute(
            sa.text(
                "UPDATE channel_requests SET account_no = :a WHERE channel = :c AND request_id = :r"
            ),
            {"a": keys.encrypt(number, context), "c": r["channel"], "r": r["request_id"]},
        )


def downgrade() -> None:
    raise NotImplementedError("sealed card numbers are not written back in clear")
