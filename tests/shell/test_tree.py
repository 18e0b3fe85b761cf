"""The IOS parser on its own: every command by its shortest abbreviation, and any input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartlic.instance import Agent
from smartlic.instance.shell.commands import build_trees
from smartlic.instance.shell.session import Device
from smartlic.instance.shell.tree import Node, ParseError, Tree
from tests.shell.states import build

SAMPLES = {"word": "x1", "number": "7", "line": "some text"}


def commands(tree: Tree) -> Iterator[tuple[list[str], list[str], Node]]:
    """(full words, shortest unique words, final node) for every command of a tree."""

    def walk(
        node: Node, full: list[str], short: list[str]
    ) -> Iterator[tuple[list[str], list[str], Node]]:
        if node.action is not None and full:
            yield full, short, node
        keywords = [c.word for c in node.children if c.kind == "keyword"]
        for child in node.children:
            if child.kind == "keyword":
                prefix = next(
                    child.word[:n]
                    for n in range(1, len(child.word) + 1)
                    if [k for k in keywords if k.lower().startswith(child.word[:n].lower())]
                    == [child.word]
                    or child.word[:n] == child.word
                )
                yield from walk(child, [*full, child.word], [*short, prefix])
            elif child.kind != "line" or not child.children:
                sample = SAMPLES[child.kind]
                yield from walk(child, [*full, sample], [*short, sample])

    yield from walk(tree.root, [], [])


@pytest.mark.parametrize("mode", ["user", "exec", "config", "config-line"])
def test_every_command_parses_by_its_shortest_abbreviation(mode: str) -> None:
    tree = build_trees()[mode]
    seen = 0
    for full, short, node in commands(tree):
        assert tree.parse(" ".join(full)).action is node.action, full
        assert tree.parse(" ".join(short)).action is node.action, (full, short)
        assert tree.parse("  " + "   ".join(short).upper() + " ").action is node.action
        seen += 1
    assert seen > 5


def test_an_unfinished_prefix_is_incomplete_or_ambiguous() -> None:
    tree = build_trees()["exec"]
    with pytest.raises(ParseError) as caught:
        tree.parse("show license")
    assert caught.value.kind == "incomplete"
    with pytest.raises(ParseError) as caught:
        tree.parse("c")
    assert caught.value.kind == "ambiguous"  # clock, configure, copy


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    agent = build("fresh", Path(tmp_path_factory.mktemp("tree")))
    yield agent
    agent.close()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    line=st.text(alphabet=st.sampled_from(list("showlicensumtr ?|-:0123456789incx\t")), max_size=40)
)
def test_any_input_gets_text_never_an_exception(agent: Agent, line: str) -> None:
    session = Device(agent).session(privileged=True)
    out = session.execute(line)
    assert isinstance(out, str)
    assert out == "" or out.endswith("\n")
