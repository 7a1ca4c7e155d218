"""Suite-wide settings, and the fixtures of the journal's two stores (SQLite, PostgreSQL).

Hypothesis's per-example deadline (200 ms) measures the machine, not the code: on a loaded
CI runner a pure function can miss it and the test fails for no fault of the code. Speed is
measured by the benchmarks; here every example may take as long as it takes.

`journal_location` is parametrized over both stores: a SQLite path in the test's temp
directory, or a fresh database on one throwaway PostgreSQL cluster per session
(tests.support.pg; `JOURNAL_URL` names an existing server instead). Without PostgreSQL
installed the PostgreSQL cases are skipped with the reason, except under CI, where
.ci/run installs it and a missing server is a failure.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.support import gateway_fakes, pg

settings.register_profile("suite", deadline=None)
settings.load_profile("suite")

STORES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_cluster():
    if not pg.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql) and JOURNAL_URL is not set")
        pytest.skip("PostgreSQL not installed: apt-get install postgresql, or set JOURNAL_URL")
    cluster = pg.Cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh database, dropped after the test."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture(params=STORES)
def journal_location(request, tmp_path) -> str:
    """Where a journal lives for this test: a SQLite file path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "journal.sqlite")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def each_journal(journal_location, monkeypatch) -> str:
    """Runs a test once per store: gateway_fakes.settings() then points at this journal."""
    if journal_location.startswith("postgresql://"):
        monkeypatch.setattr(gateway_fakes, "JOURNAL", journal_location)
    return journal_location
