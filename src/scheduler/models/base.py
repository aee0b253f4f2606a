"""Metadata naming convention: every index and constraint gets a predictable name.

Set before any table class is defined (models/__init__.py imports this module first), so
Alembic autogenerate, SQLite batch migrations and the integrity-error mapping in errors.py all
see the same names.
"""

from __future__ import annotations

from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata.naming_convention = NAMING_CONVENTION

# JSON everywhere, binary JSON where the database has it.
JSONType = JSON().with_variant(JSONB(), "postgresql")

metadata = SQLModel.metadata
