"""Which migration files exist and in which order they apply; URL helpers of the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.gateway.catalog.migrate import database_name, load_migrations, quote_ident, with_database


def test_the_project_s_migrations_load_in_version_order() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].version == "0001" and "CREATE TABLE files" in migrations[0].sql


def test_files_apply_by_number_not_by_name(tmp_path: Path) -> None:
    (tmp_path / "0010_later.sql").write_text("SELECT 10;")
    (tmp_path / "0002_second.sql").write_text("SELECT 2;")
    (tmp_path / "0001_first.sql").write_text("SELECT 1;")
    assert [(m.version, m.name) for m in load_migrations(tmp_path)] == [
        ("0001", "first"),
        ("0002", "second"),
        ("0010", "later"),
    ]


@pytest.mark.parametrize(
    "names", [["1_short.sql"], ["0001_Upper.sql"], ["0001_a.sql", "0001_b.sql"], ["0001-dash.sql"]]
)
def test_badly_named_or_duplicate_files_are_refused(tmp_path: Path, names: list[str]) -> None:
    for name in names:
        (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(ValueError):
        load_migrations(tmp_path)


def test_url_helpers() -> None:
    url = "postgresql://user:pw@db.example:5433/files?sslmode=require"
    assert database_name(url) == "files"
    assert with_database(url, "postgres") == "postgresql://user:pw@db.example:5433/postgres?sslmode=require"
    assert quote_ident('we"ird') == '"we""ird"'
    with pytest.raises(ValueError):
        database_name("postgresql://host:5432")
