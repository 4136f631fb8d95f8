"""Shared fixtures: a copy of the bundled project in a temp folder, and store URLs for
SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("INSIGHTS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """config.toml, templates/ and examples/ copied to a temp folder (paths stay relative)."""
    from .helpers import copy_project

    return copy_project(tmp_path)


def _pg_admin_engine():
    url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def postgres_reachable() -> str | None:
    """None when reachable, else why not (for the skip message)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    try:
        with _pg_admin_engine().connect() as conn:
            conn.execute(text("select 1"))
    except Exception as e:  # any failure means: skip, and say why
        return f"PostgreSQL not reachable at {PG_URL}: {str(e).splitlines()[0]}"
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    reason = postgres_reachable()
    if reason:
        pytest.skip(f"PostgreSQL backend skipped: {reason}")
    name = f"insights_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
