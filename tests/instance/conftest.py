from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smartlic.instance import Agent, Identity, ManualClock
from tests.instance.mini_authority import T0, UDI, MiniAuthority, serve


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def authority() -> MiniAuthority:
    return MiniAuthority()


@pytest.fixture
def make_agent(
    tmp_path: Path, clock: ManualClock, authority: MiniAuthority
) -> Iterator[Callable[..., Agent]]:
    opened: list[Agent] = []

    def make(state: Path | None = None, **options: Any) -> Agent:
        options.setdefault("clock", clock)
        options.setdefault("anchor", authority.anchor)
        agent = Agent.open(
            state or tmp_path / "state",
            options.pop("identity", Identity(UDI, "switch-1")),
            **options,
        )
        opened.append(agent)
        return agent

    yield make
    for agent in opened:
        agent.close()


@pytest.fixture
def agent(make_agent: Callable[..., Agent]) -> Agent:
    return make_agent()


@pytest.fixture
def served(authority: MiniAuthority) -> Iterator[str]:
    with serve(authority.app()) as url:
        yield url
