"""Fixtures shared by the job tests."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The SQLAlchemy URL of the throwaway PostgreSQL that scripts/postgres.sh starts (left running)."""
    script = str(ROOT / "scripts" / "postgres.sh")
    started = subprocess.run([script, "start"], capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    return subprocess.run([script, "url"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def postgres_url(postgres_server):
    """The SQLAlchemy URL of a new, empty schema on that server for one test (dropped afterwards).

    A schema (through the connection's ``search_path``) rather than a database: creating a database takes
    half a second, a schema a millisecond. Any process that connects with the URL sees only this schema.
    """
    name = f"raydata_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    url = make_url(postgres_server).update_query_dict({"options": f"-csearch_path={name}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql("SET lock_timeout = '30s'")
        connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    admin.dispose()
