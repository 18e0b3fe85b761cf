"""The event log's filters run in SQL over the whole history (SQLite and PostgreSQL): an old
entry is found however many newer ones follow, and another account's entries never appear."""

from __future__ import annotations

import pytest

from smartlic.authority import audit
from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.context import Authority
from smartlic.authority.db import transaction
from tests.authority.helpers import T0, World


@pytest.fixture
def world(authority: Authority) -> World:
    return World.create(authority)


def test_filters_reach_past_the_newest_entries(authority: Authority, world: World) -> None:
    with transaction(authority.sessions) as s:
        audit.record(
            s,
            at=T0,
            account_id=world.account_id,
            actor="alice",
            action="trust_code.issue",
            subject="PID:C9300-24UX,SN:OLD0001",
            detail="100%_sure",
        )
        for n in range(1500):
            audit.record(
                s, at=T0 + 1 + n, account_id=world.account_id, actor="bob", action="token.create"
            )
        audit.record(
            s,
            at=T0 + 5000,
            account_id=world.account_id,
            actor="bob",
            action="slac.issue",
            outcome="refused",
            subject="PID:C9300-24UX,SN:NEW0001",
        )
        audit.record(
            s,
            at=T0 + 6000,
            account_id=world.other_account_id,
            actor="mallory",
            action="trust_code.issue",
            subject="PID:C9300-24UX,SN:OLD0001",
        )
    with authority.sessions() as s:
        repo = AccountRepository(s, world.account_id)
        (found,) = repo.audit(200, search="TRUST_CODE")
        assert found.actor == "alice"
        assert [e.actor for e in repo.audit(200, subject="PID:C9300-24UX,SN:OLD0001")] == ["alice"]
        assert [e.action for e in repo.audit(200, outcome="refused")] == ["slac.issue"]
        assert [e.actor for e in repo.audit(200, search="100%")] == ["alice"]  # % is literal
        assert [e.actor for e in repo.audit(200, search="%_s")] == ["alice"]  # and _
        assert len(repo.audit(200, search="token.create")) == 200
        assert repo.audit(200, search="mallory") == []
