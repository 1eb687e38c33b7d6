"""The two schemas: unit data (one database per unit) and global data (members, configuration).

Domain packages declare their tables on these metadata objects in their own ``tables.py``;
Alembic migrations under ``platform/migrations`` create them on both engines.
"""

from __future__ import annotations

import sqlalchemy as sa

unit_metadata = sa.MetaData()
global_metadata = sa.MetaData()

Money = sa.BigInteger
Millis = sa.BigInteger


def ident(name: str, **kw: object) -> sa.Column[str]:
    return sa.Column(name, sa.String(40), **kw)  # type: ignore[arg-type]


def load_all_tables() -> None:
    """Import every domain's tables so the metadata is complete (for migrations and tests)."""
    import qianbao.credit.tables
    import qianbao.ledger.tables
    import qianbao.members.tables
    import qianbao.payments.tables
    import qianbao.payments.trades_tables
    import qianbao.platform.tables
    import qianbao.scoring.tables  # noqa: F401
