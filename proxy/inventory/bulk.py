"""Batch inserts run straight on the DB-API driver: compiled once, values pre-formatted.

At the writer's batch sizes SQLAlchemy's per-parameter processing cost more than the
database's own work, so each statement is built with SQLAlchemy once per dialect, compiled
to SQL text, and run on the connection's driver cursor inside the session's transaction:

- SQLite: ``executemany`` over tuples, datetimes given as the text SQLAlchemy's SQLite
  ``DateTime`` stores (UTC, always with microseconds), so reads and range filters agree.
- PostgreSQL: one ``INSERT … SELECT unnest(array, …)`` with an array per column sent in
  psycopg's binary format (``%(name)b``): the text format quotes every element with a regex
  and parses every timestamp, several times slower at 2,000 rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shadowlens.proxy.inventory.models import UTCDateTime

_SQLITE_VARIABLES = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
_SQLITE_ROWS = 500  # rows per multi-row VALUES: short statements, few of them

Finish = Callable[[Any, str], Any]
"""Completes a bare ``INSERT`` (ON CONFLICT…) given the dialect name."""


def _bare(insert: Any, _dialect: str) -> Any:
    return insert


def skipping(*key: str) -> Finish:
    """ON CONFLICT on ``key``: keep the stored row (an idempotent insert)."""
    return lambda insert, _dialect: insert.on_conflict_do_nothing(index_elements=list(key))


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    times: tuple[int, ...]  # column indexes holding datetimes
    texts: tuple[tuple[int, int | None], ...]  # text column indexes and their lengths
    order: tuple[int, ...] | None = None  # SQLite: column index of each "?", when not in order
    values: str = ""  # SQLite: the one-row VALUES group


@dataclass(frozen=True, eq=False)
class BulkInsert:
    """An ``INSERT`` of many rows of ``columns`` into ``model``'s table.

    ``finish`` adds the conflict handling; ``returning`` names the columns to return for the
    rows actually inserted.
    """

    model: type[Any]
    columns: tuple[str, ...]
    finish: Finish = _bare
    returning: tuple[str, ...] = ()
    _compiled: dict[str, _Compiled] = field(default_factory=dict, init=False, repr=False)

    def run(self, session: Session, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Write ``rows`` (values in ``columns`` order); the returned rows, if any were asked."""
        if not rows:
            return []
        conn = session.connection()
        compiled = self._compile(conn.dialect)
        columns = _storable(list(zip(*rows, strict=True)), compiled.texts)
        cursor = conn.connection.cursor()
        try:
            if conn.dialect.name == "postgresql":
                return self._run_postgresql(cursor, compiled, columns)
            return self._run_sqlite(cursor, compiled, list(zip(*columns, strict=True)))
        finally:
            cursor.close()

    def _run_postgresql(
        self, cursor: Any, compiled: _Compiled, columns: Sequence[Sequence[Any]]
    ) -> list[tuple[Any, ...]]:
        cursor.execute(compiled.sql, {f"p{i}": list(column) for i, column in enumerate(columns)})
        return list(cursor.fetchall()) if self.returning else []

    def _run_sqlite(
        self, cursor: Any, compiled: _Compiled, rows: Sequence[Sequence[Any]]
    ) -> list[tuple[Any, ...]]:
        texts: dict[datetime, str] = {}  # rollup rows share their hours: format each once
        params = [_sqlite_params(row, compiled, texts) for row in rows]
        if not self.returning:
            cursor.executemany(compiled.sql, params)
            return []
        # sqlite3's executemany cannot return rows: one multi-row VALUES per chunk instead.
        width = len(self.columns)
        chunk = max(1, min(_SQLITE_ROWS, cursor.connection.getlimit(_SQLITE_VARIABLES) // width))
        returned: list[tuple[Any, ...]] = []
        for start in range(0, len(params), chunk):
            part = params[start : start + chunk]
            values = ", ".join([compiled.values] * len(part))
            sql = compiled.sql.replace(compiled.values, values, 1)
            returned.extend(cursor.execute(sql, [v for row in part for v in row]).fetchall())
        return returned

    def _compile(self, dialect: Any) -> _Compiled:
        if (done := self._compiled.get(dialect.name)) is None:
            done = self._compiled[dialect.name] = self._build(dialect)
        return done

    def _build(self, dialect: Any) -> _Compiled:
        table = self.model.__table__
        columns = [table.c[name] for name in self.columns]
        times = tuple(i for i, c in enumerate(columns) if isinstance(c.type, UTCDateTime))
        texts = tuple(
            (i, c.type.length) for i, c in enumerate(columns) if isinstance(c.type, String)
        )
        insert: Any
        if dialect.name == "postgresql":
            arrays = select(
                *(
                    func.unnest(cast(bindparam(f"p{i}"), postgresql.ARRAY(c.type)))
                    for i, c in enumerate(columns)
                )
            )
            insert = postgresql.insert(table).from_select(self.columns, arrays)
        else:
            insert = sqlite.insert(table).values({c.name: bindparam(c.name) for c in columns})
        statement = self.finish(insert, dialect.name)
        if self.returning:
            statement = statement.returning(*(table.c[name] for name in self.returning))
        compiled = statement.compile(dialect=dialect)
        if dialect.name == "postgresql":
            sql = compiled.string
            for i in range(len(columns)):
                sql = sql.replace(f"%(p{i})s", f"%(p{i})b")
            return _Compiled(sql, times, texts)
        bound = tuple(compiled.positiontup or ())
        values = "(" + ", ".join("?" * len(columns)) + ")"
        if sorted(bound) != sorted(self.columns) or values not in compiled.string:
            raise ValueError(f"{table.name}: a bulk statement binds each column once in VALUES")
        order = None if bound == self.columns else tuple(map(self.columns.index, bound))
        return _Compiled(compiled.string, times, texts, order, values)


def _storable(
    columns: list[Sequence[Any]], texts: tuple[tuple[int, int | None], ...]
) -> list[Sequence[Any]]:
    """``columns`` with text every database takes: no NUL, no lone surrogate, within length.

    Text comes from clients (user names, paths, models, form fields). PostgreSQL refuses a
    NUL and a lone surrogate cannot be encoded: either would fail the whole batch, again on
    every replay. A clean column costs one pass in C; only a suspect one is rewritten.
    """
    for i, limit in texts:
        if _suspect(columns[i], limit):
            columns[i] = [_clean(v, limit) if type(v) is str else v for v in columns[i]]
    return columns


def _suspect(values: Sequence[str | None], limit: int | None) -> bool:
    """Whether a value of a text column may need cleaning."""
    texts = list(filter(None, values))
    joined = "".join(texts)
    if "\x00" in joined or not joined.isascii():
        return True
    return limit is not None and bool(texts) and max(map(len, texts)) > limit


def _clean(text: str, limit: int | None) -> str:
    text = text.replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate becomes "?"
    return text[:limit] if limit is not None else text


def _sqlite_params(
    row: Sequence[Any], compiled: _Compiled, texts: dict[datetime, str]
) -> Sequence[Any]:
    if compiled.times:
        row = list(row)
        for i in compiled.times:
            if (value := row[i]) is not None:
                if (text := texts.get(value)) is None:
                    text = texts[value] = sqlite_time(value)
                row[i] = text
    return row if compiled.order is None else [row[i] for i in compiled.order]


def sqlite_time(value: datetime) -> str:
    """``value`` as SQLAlchemy's SQLite ``DateTime`` stores it: UTC text with microseconds."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]  # without "+00:00"
