"""Bulk reads and writes: the one place that knows how each database takes many rows at once.

Domain services (the price door, alert evaluation, feed imports, checks) call these functions
and read as the rule they implement. Values handed in must already be what the database stores:
`prepare` and `adapt_datetimes` turn model values into that. Identifiers always come from the
model; every value travels as a bound parameter or COPY data, never as SQL text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import Field
from django.utils import timezone

# SQLite allows 32,766 bound variables per statement, PostgreSQL 65,535: chunks stay below both.
CHUNK = 2000
MAX_PARAMETERS = 30_000

ModelT = TypeVar("ModelT", bound=models.Model)
T = TypeVar("T")


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[models.Model]) -> str:
    return quote(model._meta.db_table)


# --- values --------------------------------------------------------------------------------------


def adapt_datetimes() -> Callable[[datetime | None], Any]:
    """The backend's datetime adaptation, memoised: a batch shares a handful of timestamps."""
    adapt = connection.ops.adapt_datetimefield_value
    seen: dict[datetime, Any] = {}

    def adapted(value: datetime | None) -> Any:
        if value is None:
            return None
        try:
            return seen[value]
        except KeyError:
            seen[value] = result = adapt(value)
            return result

    return adapted


def adapt_date(value: date) -> Any:
    return connection.ops.adapt_datefield_value(value)


def db_now() -> Any:
    return connection.ops.adapt_datetimefield_value(timezone.now())


# Fields whose Python values the drivers take as they are: preparing them through the field
# costs ~10 us a value, more than the database's own work at these volumes.
_AS_IS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.DecimalField,
    models.BooleanField,
    models.FloatField,
    models.ForeignKey,
    models.AutoField,
)


def concrete_fields(model: type[models.Model], names: Iterable[str] | None = None) -> list[Field]:
    meta = model._meta
    found = meta.concrete_fields if names is None else [meta.get_field(name) for name in names]
    fields: list[Field] = []
    for item in found:
        assert isinstance(item, Field)
        fields.append(item)
    return fields


def preparer(fields: Sequence[Field]) -> Callable[[object], list[Any]]:
    """A function from an object (model instance or look-alike) to its database row."""
    adapt = adapt_datetimes()
    steps: list[tuple[str, Callable[[Any], Any] | None]] = []
    for item in fields:
        if isinstance(item, models.DateTimeField):
            steps.append((item.attname, adapt))
        elif isinstance(item, _AS_IS):
            steps.append((item.attname, None))
        else:
            steps.append((item.attname, _field_preparer(item)))

    def prepare(obj: object) -> list[Any]:
        row = []
        for name, step in steps:
            value = getattr(obj, name)
            row.append(value if step is None or value is None else step(value))
        return row

    return prepare


def _field_preparer(item: Field) -> Callable[[Any], Any]:
    return lambda value: item.get_db_prep_save(value, connection)


# --- ids and locks -------------------------------------------------------------------------------


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """Ids for `count` new rows of `model`, taken before inserting them.

    PostgreSQL hands them out from the table's sequence. On SQLite the caller holds the write
    lock (IMMEDIATE transactions), so the next ids past both the largest id and the
    AUTOINCREMENT counter are ours.
    """
    if count == 0:
        return []
    name = model._meta.db_table
    with connection.cursor() as cursor:
        if is_postgresql():
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [name, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table(model)}")  # noqa: S608
        high = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [name])
        row = cursor.fetchone()
        if row is not None:
            high = max(high, row[0])
    return list(range(high + 1, high + 1 + count))


def lock_by_id(model: type[ModelT], ids: Sequence[int]) -> dict[int, ModelT]:
    """The rows of `model` with these ids, locked for the rest of the transaction.

    PostgreSQL takes row locks (in id order, so two writers never deadlock); SQLite serialises
    writers with IMMEDIATE transactions and has no row locks to take.
    """
    found: dict[int, ModelT] = {}
    if is_postgresql():
        # One array parameter instead of the ORM's IN list: psycopg splits a query of 2,000
        # placeholders in Python on every call.
        sql = f"SELECT * FROM {table(model)} WHERE id = ANY(%s) ORDER BY id FOR UPDATE"  # noqa: S608
        for chunk in chunks(ids):
            for row in model._default_manager.raw(sql, [list(chunk)]):
                found[row.pk] = row
        return found
    for chunk in chunks(ids):
        for row in model._default_manager.filter(pk__in=chunk).order_by("pk"):
            found[row.pk] = row
    return found


# --- reads ---------------------------------------------------------------------------------------


def in_conditions(column: str, values: Sequence[Any]) -> list[tuple[str, list[Any]]]:
    """SQL conditions selecting `column` in `values`: one array on PostgreSQL, chunks elsewhere."""
    if is_postgresql():
        return [(f"{column} = ANY(%s)", [list(values)])]
    return [
        (f"{column} IN ({', '.join(['%s'] * len(chunk))})", list(chunk)) for chunk in chunks(values)
    ]


def select_in(
    select: str, column: str, values: Sequence[Any], params: Sequence[Any] = ()
) -> Iterator[tuple[Any, ...]]:
    """Rows of `select … WHERE <column in values>`, a chunk of values per query.

    `select` ends where the condition goes (after WHERE, or after `… AND`); `params` are the
    parameters `select` itself binds before the condition.
    """
    with connection.cursor() as cursor:
        for chunk in chunks(values):
            for condition, bound in in_conditions(column, chunk):
                cursor.execute(f"{select} {condition}", [*params, *bound])
                yield from cursor.fetchall()


# --- writes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnConflict:
    """What to do when a row collides with `target`'s unique key.

    `update` maps a column to its new value as SQL, where `excluded.<column>` is the new row's
    value and `{table}.<column>` the stored one; no `update` means DO NOTHING.
    """

    target: tuple[str, ...]
    update: Mapping[str, str] = field(default_factory=dict)

    def clause(self, model: type[models.Model]) -> str:
        keys = ", ".join(quote(column) for column in self.target)
        if not self.update:
            return f"ON CONFLICT ({keys}) DO NOTHING"
        name = table(model)
        sets = ", ".join(
            f"{quote(column)} = {expression.format(table=name)}"
            for column, expression in self.update.items()
        )
        return f"ON CONFLICT ({keys}) DO UPDATE SET {sets}"


def least(*expressions: str) -> str:
    return f"{'LEAST' if is_postgresql() else 'MIN'}({', '.join(expressions)})"


def greatest(*expressions: str) -> str:
    return f"{'GREATEST' if is_postgresql() else 'MAX'}({', '.join(expressions)})"


def insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    on_conflict: OnConflict | None = None,
) -> None:
    """INSERT many rows of database-ready values.

    PostgreSQL: COPY (psycopg's C adapters; binding parameters goes value by value in Python),
    through a temporary table when a conflict clause is needed. SQLite: multi-row VALUES.
    """
    if not rows:
        return
    target = table(model)
    names = ", ".join(quote(column) for column in columns)
    suffix = on_conflict.clause(model) if on_conflict else ""
    with connection.cursor() as cursor:
        if is_postgresql():
            if not suffix:
                _copy(cursor, target, names, rows)
                return
            staging = quote(f"staging_{model._meta.db_table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "  # noqa: S608
                f"SELECT {names} FROM {target} WITH NO DATA"
            )
            _copy(cursor, staging, names, rows)
            cursor.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {staging} {suffix}")  # noqa: S608
            cursor.execute(f"DELETE FROM {staging}")  # noqa: S608
            return
        placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for chunk in chunks(rows, max(1, MAX_PARAMETERS // len(columns))):
            values = ", ".join([placeholder] * len(chunk))
            cursor.execute(
                f"INSERT INTO {target} ({names}) VALUES {values} {suffix}",  # noqa: S608
                [value for row in chunk for value in row],
            )


def _copy(cursor: Any, target: str, names: str, rows: Sequence[Sequence[Any]]) -> None:
    with cursor.cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def update_by_id(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """UPDATE many rows, each `rows` entry the new values of `columns` followed by the key.

    One statement per row sent with executemany: bulk_update's CASE chains grow quadratic
    (and SQLite splits them into many statements).
    """
    if not rows:
        return
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    key = quote(model._meta.pk.column)
    sql = f"UPDATE {table(model)} SET {assignments} WHERE {key} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        for chunk in chunks(rows, 10 * CHUNK):
            cursor.executemany(sql, chunk)


def save_fields(objects: Sequence[ModelT], names: Sequence[str]) -> None:
    """Write the named fields of many model instances: `update_by_id` with their values."""
    if not objects:
        return
    fields = concrete_fields(type(objects[0]), names)
    prepare = preparer(fields)
    update_by_id(
        type(objects[0]),
        [item.column for item in fields],
        [[*prepare(obj), obj.pk] for obj in objects],
    )


def refresh_statistics(columns_by_model: Mapping[type[models.Model], Sequence[str]]) -> None:
    """ANALYZE what a large write changed, on PostgreSQL (SQLite's planner needs no help).

    Autovacuum analyses a table some time after a bulk load, if at all; until then the planner
    guesses, and guessed a sequential scan for every later lookup batch.
    """
    if not is_postgresql():
        return
    with connection.cursor() as cursor:
        for model, columns in columns_by_model.items():
            names = ", ".join(quote(column) for column in columns)
            cursor.execute(f"ANALYZE {table(model)} ({names})")
