"""Every shipped scenario passes, each in a fresh lab."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartlic.lab import scenario


@pytest.mark.parametrize("name", scenario.shipped_names())
def test_shipped_scenario_passes(name: str, template: Path, tmp_path: Path) -> None:
    report = scenario.run(scenario.find(name), tmp_path / "lab", template=template)
    assert report.ok, [(s.number, s.kind, s.detail, s.message) for s in report.failed]


def test_every_topology_has_a_scenario() -> None:
    from smartlic.lab.fleet import TOPOLOGIES

    topologies = {
        str(scenario.load(scenario.find(n)).get("topology")) for n in scenario.shipped_names()
    }
    assert set(TOPOLOGIES) <= topologies


def test_a_failing_expectation_is_reported(template: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\ntopology: direct\ninstances: 1\nsteps:\n"
        "  - expect: {state: trust_installed, equals: true}\n"
        "  - cli: show license summary\n"
    )
    report = scenario.run(path, tmp_path / "lab", template=template)
    assert not report.ok
    assert report.failed[0].number == 1
    assert "trust_installed is False" in report.failed[0].message
    assert len(report.steps) == 1  # stops at the first failure


def test_a_malformed_step_is_reported(template: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ntopology: direct\ninstances: 1\nsteps:\n  - advance: 5\n")
    report = scenario.run(path, tmp_path / "lab", template=template)
    assert not report.ok and report.failed[0].kind == "advance"
