"""Database: declarative base, tenant-scoped tables and sessions.

Two walls keep one merchant's rows away from another's:
1. In the ORM, every query of a ``TenantScoped`` model gets ``tenant_id = :current`` through
   ``with_loader_criteria``, new rows get the session's tenant id, and a query of a tenant table
   from a session without a tenant is refused outright.
2. On PostgreSQL, each transaction runs ``set_config('app.tenant_id', :id, true)`` and every
   tenant table has a FORCEd row-level security policy on that setting (see core/tenancy/rls.py).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    String,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 26
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32, 26 characters.

    Time-ordered so ``ORDER BY id`` is creation order and cursors are just the last id; random
    enough that ids are not guessable. Strings, because JavaScript numbers lose 64-bit integers.
    """
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(ID_LENGTH):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use core.db.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UtcDateTime,
        dict[str, Any]: JsonType,
        list[str]: JsonType,
        list[Any]: JsonType,
    }


class TenantOwned:
    """Mixin for every tenant-owned table: ``tenant_id`` leads the primary key and points at
    the tenant. Most tables want ``TenantScoped``; this alone suits natural keys."""

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH),
        ForeignKey("tenants.id"),
        primary_key=True,
        sort_order=-20,
    )


class TenantScoped(TenantOwned):
    """Mixin for tenant tables with a generated id: the primary key is ``(tenant_id, id)``."""

    id: Mapped[str] = mapped_column(
        String(ID_LENGTH), primary_key=True, default=new_id, sort_order=-10
    )


def tenant_fk(
    columns: Sequence[str], target: str, *, ondelete: str | None = None
) -> ForeignKeyConstraint:
    """A foreign key that includes ``tenant_id`` so the database forbids cross-tenant links."""
    return ForeignKeyConstraint(
        ["tenant_id", *columns],
        [f"{target}.tenant_id", f"{target}.id"],
        ondelete=ondelete,
    )


class TenantScopeError(RuntimeError):
    """A tenant table was touched from a session that has no tenant."""


def _tenant_of(session: Session) -> str | None:
    return session.info.get("tenant_id")


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_statements(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tenant_id = _tenant_of(state.session)
    if tenant_id is None:
        for mapper in state.all_mappers:
            if issubclass(mapper.class_, TenantOwned):
                raise TenantScopeError(f"{mapper.class_.__name__} queried without a tenant")
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, flush_context: Any, instances: Any) -> None:
    tenant_id = _tenant_of(session)
    for obj in session.new:
        if not isinstance(obj, TenantOwned):
            continue
        if tenant_id is None:
            raise TenantScopeError(f"{type(obj).__name__} added without a tenant")
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise TenantScopeError(f"{type(obj).__name__} belongs to another tenant")


@event.listens_for(Session, "after_begin")
def _set_rls_tenant(session: Session, transaction: SessionTransaction, conn: Connection) -> None:
    # Transaction-scoped (third argument true): a pooled connection never carries it over.
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT set_config('app.tenant_id', :tenant_id, true)"),
            {"tenant_id": _tenant_of(session) or ""},
        )


async def dialect_insert(session: AsyncSession) -> Any:
    """``insert`` of the session's dialect, the one with ``on_conflict_do_update`` (PostgreSQL
    and SQLite spell the upsert the same way, through different constructs)."""
    dialect = (await session.connection()).dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


READONLY = "storeplug_readonly"


def _configure_sqlite(engine: AsyncEngine) -> None:
    # The embedded backend serialises writers: BEGIN IMMEDIATE takes the write lock up front
    # so two transactions never deadlock upgrading a read lock, and busy_timeout makes the
    # second writer wait instead of failing.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A read-only session (Database.read_session) reads a WAL snapshot beside the writer.
        readonly = conn.get_execution_options().get(READONLY)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class Database:
    """The app's engine and its two kinds of session."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def tenant_session(self, tenant_id: str) -> AsyncIterator[AsyncSession]:
        """A session that sees only ``tenant_id``'s rows; commits on success."""
        async with self._sessions() as session:
            session.info["tenant_id"] = tenant_id
            async with session.begin():
                yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session that only reads; it starts with no tenant (see ``enter_tenant``). On
        SQLite it does not queue behind writers for the write lock."""
        async with self._sessions() as session, session.begin():
            await session.connection(execution_options={READONLY: True})
            yield session

    async def enter_tenant(self, session: AsyncSession, tenant_id: str) -> None:
        """Scope an open session to ``tenant_id`` from here on: the ORM filter and, on
        PostgreSQL, the RLS setting of the running transaction."""
        session.info["tenant_id"] = tenant_id
        if self.dialect == "postgresql":
            await session.execute(
                text("SELECT set_config('app.tenant_id', :tenant_id, true)"),
                {"tenant_id": tenant_id},
            )

    @asynccontextmanager
    async def shared_session(self) -> AsyncIterator[AsyncSession]:
        """A session for the shared tables (tenants, plans); tenant tables are refused."""
        async with self._sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
