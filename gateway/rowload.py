"""One precompiled query that loads a row of joined models, for the hot paths where the ORM's
compile step costs more than the database does.

Each API request authenticates its key with the key's owner, plan, plan override and session:
as a `select_related` query Django compiles it anew on every request (about 1.7 ms of CPU, with
as much again to build the objects, measured on the send path). `RowLoader` writes the SELECT
list once from the models' own fields, runs the caller's FROM/WHERE text with new parameters,
converts each value with the same database converters the ORM uses (SQLite and PostgreSQL
alike) and links the objects as `select_related` would, so the result is indistinguishable from
the ORM's. Fields added to a model later are picked up without touching the SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model


class RowLoader:
    """`parts`: (model, alias) pairs in the order the instances come back; `tail`: the SQL after
    the SELECT list ("FROM table a JOIN ... WHERE ..."), with `%s` parameters. A part whose
    primary key comes back NULL (a LEFT JOIN that found nothing) is None."""

    def __init__(self, parts: Sequence[tuple[type[Model], str]], tail: str) -> None:
        self.parts = list(parts)
        self.tail = tail
        self._compiled: tuple[str, list[list[tuple[Field, Any, list[Any]]]]] | None = None
        self._lock = threading.Lock()

    def _compile(self) -> tuple[str, list[list[tuple[Field, Any, list[Any]]]]]:
        """Return (sql, columns) once per loader: built under a lock, published whole (the
        threads of a web worker share it; a half-built column list answered 500s)."""
        with self._lock:
            if self._compiled is None:
                self._compiled = self._build()
            return self._compiled

    def _build(self) -> tuple[str, list[list[tuple[Field, Any, list[Any]]]]]:
        quote = connection.ops.quote_name
        select: list[str] = []
        all_columns = []
        for model, alias in self.parts:
            columns = []
            for field in model._meta.concrete_fields:
                select.append(f"{alias}.{quote(field.column)}")
                expression = field.get_col(alias)
                converters = connection.ops.get_db_converters(
                    expression
                ) + expression.get_db_converters(connection)
                columns.append((field, expression, converters))
            all_columns.append(columns)
        return f"SELECT {', '.join(select)} {self.tail}", all_columns

    def first(self, params: Sequence[Any]) -> list[Model | None] | None:
        """Run the query; return the first row's instances (None when no row matches)."""
        sql, all_columns = self._compiled or self._compile()
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            row = cursor.fetchone()
        if row is None:
            return None
        instances: list[Model | None] = []
        at = 0
        for (model, _alias), columns in zip(self.parts, all_columns, strict=True):
            values = []
            for _field, expression, converters in columns:
                value = row[at]
                at += 1
                for converter in converters:
                    value = converter(value, expression, connection)
                values.append(value)
            pk_at = next(i for i, (f, _e, _c) in enumerate(columns) if f.primary_key)
            if values[pk_at] is None:
                instances.append(None)
                continue
            names = [field.attname for field, _e, _c in columns]
            instances.append(model.from_db(connection.alias, names, values))
        return instances


def link(instance: Model, name: str, related: Model | None) -> None:
    """Cache `related` as `instance.<name>` (a forward or reverse relation) the way
    `select_related` does; None caches "no such object" for a reverse one-to-one."""
    field = instance._meta.get_field(name)
    field.set_cached_value(instance, related)  # type: ignore[union-attr]
