"""What the stress tests share: one authority state built once per run with the authority's CLI,
copied by each example (tests/stress/roles.py)."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from tests.stress.roles import build_template


@pytest.fixture(scope="session")
def stress_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One authority state for the whole run (all workers, under a file lock)."""
    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent
    folder = base / "stress-authority-template"
    with (base / "stress-authority-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "tokens.json").exists():
            folder.mkdir(exist_ok=True)
            build_template(folder)
    return folder
