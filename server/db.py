"""The database: one engine per server, SQLite (WAL, a busy timeout, ``BEGIN IMMEDIATE`` for writes) or
any other SQLAlchemy URL (PostgreSQL: writes lock the rows they decide on with ``SELECT ... FOR UPDATE``).

Reads run in ordinary transactions; :func:`writing` opens a write transaction that is serialised where it
matters: on SQLite the whole database is reserved from its first statement, on PostgreSQL the caller
locks the team row (:func:`lock_team`) and the audit chain (:func:`lock_audit`), in that order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from benchmark.errors import VcvalError
from server.models import Base, Team

_AUDIT_LOCK_KEY = 2126_0021  # PostgreSQL advisory lock that serialises appends to the audit chain


class DatabaseUnavailable(VcvalError):
    """The database cannot be reached or stayed locked past the busy timeout (the API answers 503; the CLI
    prints it without a traceback)."""


class Database:
    """An engine and its two session makers: ``reading`` and ``writing``."""

    def __init__(self, url: str, busy_timeout_s: float = 30.0) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(self.url, connect_args={"timeout": busy_timeout_s,
                                                                "check_same_thread": False})
            _configure_sqlite(self.engine, busy_timeout_s)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                        pool_timeout=busy_timeout_s,
                                        connect_args=_connect_timeout(self.url, busy_timeout_s))
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False)

    def create_tables(self) -> None:
        with translate_errors():
            Base.metadata.create_all(self.engine)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with translate_errors(), self._read() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction, committed when the block ends without an exception, else rolled back."""
        with translate_errors(), self._write() as session, session.begin():
            yield session

    def lock_team(self, session: Session, team_id: int) -> Team:
        """The team row, locked for the rest of the transaction (SQLite: already reserved)."""
        query = select(Team).where(Team.id == team_id)
        if not self.is_sqlite:
            query = query.with_for_update()
        return session.execute(query).scalar_one()

    def lock_audit(self, session: Session) -> None:
        if not self.is_sqlite and self.url.get_backend_name() == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def translate_errors() -> Iterator[None]:
    """Database errors from the driver (unreachable, locked past the timeout) become :class:`DatabaseUnavailable`."""
    try:
        yield
    except (DBAPIError, TimeoutError) as error:
        if isinstance(error, DBAPIError) and not _is_unavailable(error):
            raise
        raise DatabaseUnavailable(f"the database is unavailable or locked "
                                  f"({type(getattr(error, 'orig', error)).__name__})") from error
    except SQLAlchemyError as error:
        if type(error).__name__ == "TimeoutError":  # the pool waited too long for a connection
            raise DatabaseUnavailable("pool timeout") from error
        raise


def _is_unavailable(error: DBAPIError) -> bool:
    if error.connection_invalidated:
        return True
    name = type(error).__name__
    return name in ("OperationalError", "InterfaceError")


def _connect_timeout(url, busy_timeout_s: float) -> dict:
    """A new connection may take up to the busy timeout: on an overloaded machine PostgreSQL forks its
    backend slowly (5 s gave 503s to 20 concurrent uploads at a load average of 6 on 2 cores), while a
    refused connection fails at once whatever the timeout."""
    return {"connect_timeout": max(1, round(busy_timeout_s))} if url.get_backend_name() == "postgresql" else {}


def _configure_sqlite(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
