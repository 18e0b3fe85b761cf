"""The console's read-only inventory queries on SQLite and PostgreSQL: which ACK counts as an
instance's last one, and how push instances are listed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartlic.utility.inventory import last_acks, push_instances
from smartlic.utility.store import Store
from tests.utility.test_postgres import pg_url

__all__ = ["pg_url"]  # the fixture, for the PostgreSQL run

A = "PID:C9300-24UX,SN:FCW0000I001"
B = "PID:C9300-24UX,SN:FCW0000I002"
PULLED = "PID:IE-3400-8P2S,SN:FDO0000I003"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    db = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    opened = Store(tmp_path / "utility", db)
    yield opened
    opened.close()


def seed(store: Store) -> None:
    with store.tx() as c:
        for udi, mode, seen, error in (
            (A, "push", 300, None),
            (B, "push", 500, "COMM_FAILED: the authority did not answer"),
            (PULLED, "pull", 400, None),
        ):
            c.execute(
                "INSERT INTO instances (udi, mode, hostname, last_seen, error) "
                "VALUES (?, ?, ?, ?, ?)",
                (udi, mode, udi[-4:].lower(), seen, error),
            )
        # A: two reports acknowledged by two ACKs, one waiting; B: one waiting.
        for udi, report_id, ack_id in (
            (A, 1, "ack-1"),
            (A, 2, "ack-2"),
            (A, 3, None),
            (B, 1, None),
        ):
            c.execute(
                "INSERT INTO reports (udi, report_id, digest, envelope, received_at, ack_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (udi, report_id, f"d{report_id}", "<x/>", 100, ack_id),
            )
        for ack_id, received in (("ack-1", 200), ("ack-2", 250), ("ack-hello", 900)):
            c.execute(
                "INSERT INTO acks (ack_id, udi, envelope, received_at) VALUES (?, ?, ?, ?)",
                (ack_id, A, "<x/>", received),
            )


def test_last_ack_and_push_instances(store: Store) -> None:
    seed(store)
    # ack-hello (900) covered no report: a policy-only answer is not the last ACK.
    assert last_acks(store, [A, B, PULLED, None]) == {A: 250}
    assert last_acks(store, []) == {}
    # Push instances only, latest contact first, with what the console shows.
    shown, total = push_instances(store)
    assert total == 2
    assert [(p.udi, p.status, p.last_contact, p.last_ack, p.waiting) for p in shown] == [
        (B, "error", 500, None, 1),
        (A, "1 report waiting for an ACK", 300, 250, 1),
    ]
    assert shown[0].error == "COMM_FAILED: the authority did not answer"
    only, total = push_instances(store, limit=1)
    assert [p.udi for p in only] == [B] and total == 2
