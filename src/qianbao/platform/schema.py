"""The two schemas: unit data (one database per unit) and global data (members, configuration).

Domain packages declare their tables on these metadata objects in their own ``tables.py``,
which ``bootstrap.py`` imports (the platform imports no package above it); Alembic migrations
under ``platform/migrations`` create them on both engines.
"""

from __future__ import annotations

import sqlalchemy as sa

unit_metadata = sa.MetaData()
global_metadata = sa.MetaData()

Money = sa.BigInteger
Millis = sa.BigInteger


def ident(name: str, **kw: object) -> sa.Column[str]:
    return sa.Column(name, sa.String(40), **kw)  # type: ignore[arg-type]
