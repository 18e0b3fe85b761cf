"""A lab in every topology: instances up, reachable over SSH and the device REST API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from smartlic.core.timefmt import DAY
from smartlic.lab.demo import ssh_command
from smartlic.lab.fleet import TOPOLOGIES, USERNAME, Lab, plan_fleet


def test_plan_is_realistic() -> None:
    members = plan_fleet(30, "mixed")
    assert len({m.udi for m in members}) == 30
    assert len({m.hostname for m in members}) == 30
    assert {m.topology for m in members} == set(TOPOLOGIES) - {"mixed"}
    assert any(len(m.ha) == 3 for m in members)
    assert all(m.udi.startswith("PID:C9") for m in members)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_fleet_up_in_every_topology(topology: str, template: Path, tmp_path: Path) -> None:
    lab = Lab.create(tmp_path / "lab", instances=5, topology=topology, template=template)
    try:
        assert len(lab.agents) == 5
        assert (lab.utility is not None) == any(m.topology.startswith("cslu") for m in lab.members)
        host = lab.members[0].hostname
        assert lab.ssh_port is not None and lab.rest is not None
        out = ssh_command(lab.ssh_port, host, lab.password, "show license summary")
        assert "network" in out
        response = httpx.get(
            f"{lab.rest.url}/{host}/smartlic-service/list",
            auth=(USERNAME, lab.password),
            timeout=10,
        )
        assert response.status_code == 200
        assert (
            httpx.get(f"{lab.rest.url}/{host}/smartlic-service/list", timeout=10).status_code == 401
        )
        rows = lab.rows()
        assert {r["topology"] for r in rows} <= set(TOPOLOGIES)
    finally:
        lab.close()


def test_time_advance_one_instance(template: Path, tmp_path: Path) -> None:
    lab = Lab.create(tmp_path / "lab", instances=2, topology="air-gapped", template=template)
    try:
        before = {h: c.now() for h, c in lab.clocks.items()}
        lab.advance(3 * DAY, "sw-1")
        assert lab.clocks["sw-1"].now() == before["sw-1"] + 3 * DAY
        assert lab.clocks["sw-2"].now() == before["sw-2"]
        assert lab.authority_clock.now() >= lab.clocks["sw-1"].now()
    finally:
        lab.close()


def test_lab_reopens_from_its_folder(template: Path, tmp_path: Path) -> None:
    lab = Lab.create(tmp_path / "lab", instances=2, topology="direct", template=template)
    lab.cli("sw-1", f"license smart trust idtoken {lab.tokens['id_token']} local")
    lab.close()
    again = Lab.open(tmp_path / "lab")
    try:
        assert again.agents["sw-1"].status().trust_installed
        assert not again.agents["sw-2"].status().trust_installed
    finally:
        again.close()


def test_mixed_has_a_connected_and_a_disconnected_utility(template: Path, tmp_path: Path) -> None:
    lab = Lab.create(tmp_path / "lab", instances=5, topology="mixed", template=template)
    try:
        assert set(lab.utilities) == {"connected", "disconnected"}
        connected, disconnected = lab.utilities["connected"], lab.utilities["disconnected"]
        assert connected.data != disconnected.data
        assert connected.preferences()["mode"] == "connected"
        assert disconnected.preferences()["mode"] == "disconnected"
        urls = {m.topology: lab.agents[m.hostname].config.cslu_url for m in lab.members}
        assert urls["cslu-push"] == lab.utility_url("connected")
        assert urls["cslu-disconnected"] == lab.utility_url("disconnected")
        assert urls["cslu-push"] != urls["cslu-disconnected"]
        # each utility's inventory holds the instances it may pull from, and only those
        assert [d["udi"] for d in connected.devices()] == [lab.members[2].udi]
        assert [d["udi"] for d in disconnected.devices()] == [lab.members[3].udi]
    finally:
        lab.close()


def test_fleet_shares_one_database(template: Path, tmp_path: Path) -> None:
    """A fleet holds a few descriptors in all, not three per instance."""
    lab = Lab.create(tmp_path / "lab", instances=40, topology="air-gapped", template=template)
    try:
        assert lab.fleet is not None
        assert len(lab.fleet.udis()) == 40
        assert not list((tmp_path / "lab" / "instances").glob("*/instance.db"))
        assert lab.device(lab.members[5].udi) is lab.device(lab.members[5].hostname)
    finally:
        lab.close()
    again = Lab.open(tmp_path / "lab")
    try:
        assert len(again.agents) == 40 and again.fleet is not None
    finally:
        again.close()


def test_every_url_the_lab_prints_answers_a_get(template: Path, tmp_path: Path) -> None:
    """The table of `lab up` and `make demo`: both utility consoles are listed, and each URL
    answers a GET (a push endpoint with 405 and a line that says what it is for)."""
    import httpx

    from smartlic.core.protocol import PUSH_ENDPOINT_GET

    lab = Lab.create(tmp_path / "lab", instances=5, topology="mixed", template=template)
    try:
        urls = lab.urls()
        assert {"utility console", "utility (disconnected) console"} <= set(urls)
        for what, value in urls.items():
            if what == "device SSH":
                continue
            url = value.split()[0]
            response = httpx.get(url, timeout=10, follow_redirects=True)
            if response.status_code == 405:
                assert PUSH_ENDPOINT_GET in response.text, what
            else:
                assert response.status_code == 200, (what, url, response.status_code)
    finally:
        lab.close()
