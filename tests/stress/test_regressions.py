"""Product bugs the system state machine found, each as its smallest reproducer (real roles on
loopback where the bug needs them).

Each failed before its fix (a closed agent heard its clock; a utility behind on key sets
refused its device's ACKs; a 4,301-digit integer gave a 500) and guards it now.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from smartlic.core.timefmt import HOUR
from smartlic.core.udi import Udi
from smartlic.instance import Agent, Identity, ManualClock
from tests.stress.roles import AuthorityRole, Instance, UtilityRole
from tests.stress.test_system_state_machine import template_time

T0 = 1_767_225_600
UDI = Udi.parse("PID:C9300-24UX,SN:REG00000001")


def test_a_closed_agent_stops_listening_to_its_clock(tmp_path: Path) -> None:
    """An embedder restarts the agent with the clock it already has (as the system state
    machine does after a crash); setting that clock must reach only the running agent."""
    clock = ManualClock(T0)
    first = Agent.open(tmp_path / "pi", Identity(UDI), clock=clock)
    first.close()
    second = Agent.open(tmp_path / "pi", clock=clock)
    try:
        clock.set(T0 + 3600)
        assert second.syslog("SYSTEM_CLOCK_CHANGED")
    finally:
        second.close()


def test_utility_relays_for_an_instance_that_knows_a_newer_key_set(
    stress_template: Path, tmp_path: Path
) -> None:
    """A device learned key set 2 elsewhere (an ACK file across the air gap), then is pointed
    at a utility that has only key set 1: its next push must be acknowledged."""
    start = template_time(stress_template) + HOUR
    authority = AuthorityRole.from_template(stress_template, tmp_path, start)
    authority.start()
    utility = UtilityRole(tmp_path / "utility", authority)
    utility.start()
    udi = Udi.parse("PID:C9300-24UX,SN:REG00000002")
    device = Instance.create("pi", "air", tmp_path / "pi", udi, start, authority.anchor)
    try:
        device.agent.configure(transport="off")
        device.agent.use("network-advantage", 1)
        device.clock.advance(HOUR)
        authority.clock.value = device.clock.now()
        authority.rotate_keys()
        usage = tmp_path / "usage.xml"
        assert device.agent.save_usage(usage, "unreported") == 1
        reply = authority.upload_usage(usage.read_bytes())
        assert reply.status_code == 200, reply.text
        assert "key set" in device.agent.import_bytes(reply.content).installed
        device.agent.configure(transport="cslu", cslu_url=utility.cslu_url)
        device.agent.use("dna-advantage", 1)
        device.clock.advance(HOUR)
        authority.clock.value = device.clock.now()
        result = device.agent.sync()
        assert result.status == "OK"
        assert result.acked == result.sent_reports > 0
    finally:
        device.close()
        device.link.close()
        utility.stop()
        utility.link.close()
        authority.stop()


def test_push_body_with_a_huge_integer_is_refused_over_http(
    stress_template: Path, tmp_path: Path
) -> None:
    authority = AuthorityRole.from_template(
        stress_template, tmp_path, template_time(stress_template) + HOUR
    )
    authority.start()
    utility = UtilityRole(tmp_path / "utility", authority)
    utility.start()
    body = b'{"protocol": 1' + b"0" * 5000 + b"}"
    try:
        answers = {
            "utility /cslu/v1/pi": httpx.post(utility.cslu_url, content=body, timeout=20),
            "authority /licservice/license": httpx.post(
                f"{authority.url}/licservice/license", content=body, timeout=20
            ),
        }
    finally:
        utility.stop()
        utility.link.close()
        authority.stop()
    codes = {where: reply.status_code for where, reply in answers.items()}
    assert all(400 <= code < 500 for code in codes.values()), codes
