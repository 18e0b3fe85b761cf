"""One authority template per test run (built with the authority's CLI), copied per lab."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

from smartlic.lab.fleet import setup_authority


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent
    folder = base / "lab-authority-template"
    with (base / "lab-authority-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "tokens.json").exists():
            folder.mkdir(exist_ok=True)
            tokens = setup_authority(folder)
            (folder / "tokens.json").write_text(json.dumps(tokens))
    return folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A lab runs every role in one process; a connection a role leaves for the garbage
    collector is reported in whichever test runs then, so the lab tests do not turn those
    ResourceWarnings into failures (the roles' own tests check their resource hygiene)."""
    for item in items:
        if "tests/lab/" in str(item.path):
            item.add_marker(
                pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
            )
