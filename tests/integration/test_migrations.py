"""The migration history, applied to an empty database, yields exactly the schema the models
declare: from empty, and from every earlier version."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import peewee as pw
import pytest
from playhouse.db_url import connect as connect_url

from models import ALL_MODELS
from models.migrate import apply_all, pending, runner
from tests.support.databases import fresh_database


def schema(database: pw.Database) -> dict[str, object]:
    """Tables, columns (type, nullability, primary key) and indexes (columns, uniqueness)."""
    tables = {}
    for table in sorted(t for t in database.get_tables() if t != "schema_migration"):
        columns = {c.name: (c.data_type.lower(), c.null, c.primary_key) for c in database.get_columns(table)}
        indexes = sorted((tuple(i.columns), i.unique) for i in database.get_indexes(table))
        foreign_keys = sorted((f.column, f.dest_table, f.dest_column) for f in database.get_foreign_keys(table))
        tables[table] = {"columns": columns, "indexes": indexes, "foreign_keys": foreign_keys}
    return tables


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[Callable[[str], pw.Database]]:
    """A factory of empty databases of the suite's kind, each removed after the test."""
    with contextlib.ExitStack() as stack:

        def make(label: str) -> pw.Database:
            (tmp_path / label).mkdir()
            url = stack.enter_context(fresh_database(os.environ.get("DATABASE_URL", ""), tmp_path / label))
            database = connect_url(url)
            stack.callback(database.close)
            return database

        yield make


def models_schema(database: pw.Database) -> dict[str, object]:
    with database.bind_ctx(ALL_MODELS):
        database.create_tables(ALL_MODELS)
    return schema(database)


def test_history_from_empty_matches_models(empty_database):
    migrated = empty_database("migrated")
    assert apply_all(migrated)
    assert pending(migrated) == []
    assert schema(migrated) == models_schema(empty_database("declared"))


def test_history_from_every_earlier_version(empty_database):
    names = [m.name for m in runner(empty_database("probe")).migrations()]
    expected = models_schema(empty_database("declared"))
    for index, name in enumerate(names):
        database = empty_database(f"from-{index}")
        runner(database).up(target=name)
        apply_all(database)
        assert schema(database) == expected, f"upgrading from {name} diverges from the models"


def test_applying_twice_changes_nothing(empty_database):
    database = empty_database("twice")
    apply_all(database)
    before = schema(database)
    assert apply_all(database) == []
    assert schema(database) == before
