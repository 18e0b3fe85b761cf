"""The utility's state on PostgreSQL (``--db postgresql://...``): the state tests in process, and
seed procedures, a crash and duplicate pushes with real processes, each on a fresh database.

Skipped when PostgreSQL is unreachable, unless ``CI=true`` (then unreachable is a failure). The
server is ``SMARTLIC_TEST_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smartlic.core.keys import SigningKey
from smartlic.instance import Agent
from smartlic.utility.service import Utility
from smartlic.utility.store import DB_ENV, DB_URL_FILE, Store
from tests.utility import forge, test_durability, test_procedures
from tests.utility.conftest import AuthorityProc, UtilityProc, new_udi

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _server_url() -> str:
    url = os.environ.get("SMARTLIC_TEST_PG_URL", DEFAULT_PG)
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    server = _server_url()
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    name = f"smartlic_utility_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def on_pg(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every utility process of the test (they inherit the environment) uses ``pg_url``."""
    monkeypatch.setenv(DB_ENV, pg_url)
    return pg_url


def test_state_on_postgres(pg_url: str, tmp_path: Path) -> None:
    utility = Utility(tmp_path, db=pg_url)
    assert utility.store.engine == "postgresql"
    assert not (tmp_path / "utility.db").exists()
    assert (tmp_path / DB_URL_FILE).read_text().strip() == pg_url
    device = utility.add_device("10.0.0.1", 443, "admin", "hunter2-secret")
    again = utility.add_device("10.0.0.1", 443, "admin", "other", udi="PID:C9300,SN:FOC1")
    assert again["id"] == device["id"]
    assert again["udi"] == "PID:C9300,SN:FOC1"
    row = utility.store.row("SELECT password FROM devices")
    assert utility.vault.decrypt(bytes(row["password"]), "10.0.0.1:443") == "other"
    udi, key = new_udi(), SigningKey.generate()
    from smartlic.utility.service import verify_report

    reports = [verify_report(forge.rum(key, udi, 1_700_000_000 + i)) for i in range(3)]
    assert utility.store_reports(reports, str(udi), "push", None) == 3
    assert utility.store_reports(reports, str(udi), "push", None) == 0
    utility.store.bump("upstream_errors")
    utility.store.bump("upstream_errors")
    utility.configure(connected=False, account="A", va="V")
    # A later command on the same data folder, without --db, finds the same state.
    later = Utility(tmp_path)
    status = later.status()
    assert status["reports_waiting"] == 3
    assert status["devices"] == 1
    assert status["upstream_errors"] == 2
    assert status["preferences"]["va"] == "V"
    assert later.remove_device("10.0.0.1:443") == 1
    out = later.download_all(tmp_path / "usage.tar.gz")
    assert out["reports"] == 3
    later.close()
    utility.close()
    # SQLite stays the default for another folder.
    assert Store(tmp_path / "other").engine == "sqlite"


def test_unsupported_url_is_refused(tmp_path: Path) -> None:
    from smartlic.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="unsupported database URL"):
        Store(tmp_path, "mysql://x@y/z")


def test_push_connected_on_postgres(
    on_pg: str,
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    test_procedures.test_push_connected_sync_installs_missing_policy(
        shared_authority, utility, make_agent
    )


def test_pull_disconnected_files_on_postgres(
    on_pg: str,
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:
    test_procedures.test_pull_disconnected_files_install_missing_policy(
        shared_authority, utility, make_agent, tmp_path
    )


def test_push_disconnected_files_on_postgres(
    on_pg: str,
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:
    test_procedures.test_push_disconnected_files_install_missing_policy(
        shared_authority, utility, make_agent, tmp_path
    )


def test_crash_after_store_on_postgres(
    on_pg: str,
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    test_durability.test_push_survives_a_crash_of_the_utility(
        "push.stored", shared_authority, utility, make_agent
    )


def test_duplicate_pushes_on_postgres(
    on_pg: str, shared_authority: AuthorityProc, utility: Callable[..., UtilityProc]
) -> None:
    test_durability.test_duplicate_pushes_and_replays(shared_authority, utility)
