"""Genie parses our ``show license ...`` output in every state, and the values are the agent's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartlic.core.timefmt import device_time
from smartlic.instance import Agent
from smartlic.instance.shell import render
from smartlic.instance.shell.session import Device, Session
from tests.shell.states import STATES, build

genie_base = pytest.importorskip("genie.conf.base")

COMMANDS = (
    "show license status",
    "show license summary",
    "show license usage",
    "show license udi",
    "show license all",
    "show license tech support",
    "show license eventlog 2",
    "show license rum id all",
    "show license rum id {report} detail",
    "show license history message",
    "show license authorization",
    "show call-home smart-licensing",
)


def genie_device(**tokens: str) -> Any:
    device = genie_base.Device("pi", os="iosxe", **tokens)
    device.custom.setdefault("abstraction", {})["order"] = ["os", "platform", "model"]
    return device


IOSXE = genie_device()
C9300 = genie_device(platform="cat9k", model="c9300")


def parse(command: str, text: str) -> dict[str, Any]:
    device = C9300 if command == "show license authorization" else IOSXE
    return dict(device.parse(command, output=text))


@pytest.fixture(scope="module", params=sorted(STATES))
def state(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Agent, Session]]:
    agent = build(request.param, Path(tmp_path_factory.mktemp("genie")))
    yield request.param, agent, Device(agent).session(privileged=True)
    agent.close()


def run(session: Session, command: str) -> tuple[str, dict[str, Any]]:
    report = session.agent.reports()[0].report_id
    command = command.format(report=report)
    text = session.execute(command)
    assert not text.startswith("%"), text
    return command, parse(command, text)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_parses_in_every_state(
    state: tuple[str, Agent, Session], command: str
) -> None:
    _, _, session = state
    _, parsed = run(session, command)
    assert parsed


def test_status_values(state: tuple[str, Agent, Session]) -> None:
    name, agent, session = state
    _, parsed = run(session, "show license status")
    info = agent.status()
    smart, virtual, _ = render.account(agent)
    assert parsed["account_information"]["smart_account"].split(" As of ")[0] == smart
    assert parsed["account_information"]["virtual_account"] == virtual
    assert parsed["transport"]["type"] == render.transport_type(agent)
    reporting = parsed["usage_reporting"]
    assert reporting["next_ack_deadline"] == device_time(info.next_ack_deadline)
    assert reporting["next_report_push"] == device_time(info.next_report_push)
    assert reporting["last_ack_received"] == device_time(info.last_ack_at)
    assert reporting["reporting_push_interval"].startswith(str(agent.config.usage_interval_days))
    policy = parsed["policy"]
    assert policy.get("policy_name") == info.policy_name
    sending = "no" if agent.config.privacy_hostname else "yes"
    assert parsed["data_privacy"]["sending_hostname"] == sending
    trust = parsed["trust_code_installed"]
    if agent.trust_code() is None:
        assert isinstance(trust, str)
        assert trust.strip() == "<none>"
    elif isinstance(trust, dict):
        roles = {m.role.value.lower() for m in agent.identity.ha_set.members}
        assert set(trust) == roles
        for role, udi, installed_at in render.trust_times(agent):
            shown = trust[role.lower()]
            assert (shown["pid"], shown["sn"]) == (udi.pid, udi.sn)
            if installed_at is not None:
                assert shown["info"] == f"INSTALLED on {device_time(installed_at)}"
            else:
                assert "INSTALLED on" not in shown.get("info", "")
    if name == "policy":
        rules = policy["unenforced_non_export_perpetual_attributes"]
        assert rules["first_report_requirement_days"] == "60 (Customer Policy)"
        assert info.policy_name == "Custom Policy"


def test_summary_and_usage_values(state: tuple[str, Agent, Session]) -> None:
    _, agent, session = state
    _, summary = run(session, "show license summary")
    _, usage = run(session, "show license usage")
    uses = agent.licenses_in_use()
    assert uses
    by_name = {row["license"]: row for row in summary["license_usage"].values()}
    assert set(by_name) == {u.name for u in uses}
    for use in uses:
        assert by_name[use.name]["count"] == str(use.count)
        assert by_name[use.name]["status"] == use.status
        block = usage["license_name"][f"{use.name} ({use.display_name}):"]
        assert block["count"] == use.count
        assert block["status"] == use.status
        assert block["feature_name"] == use.name
    assert usage["license_authorization"]["status"] == render.authorization_status(agent)


def test_udi_values(state: tuple[str, Agent, Session]) -> None:
    _, agent, session = state
    _, parsed = run(session, "show license udi")
    assert parsed["udi_details"] == {"pid": agent.udi.pid, "sn": agent.udi.sn}
    members = agent.identity.ha_set.members
    if len(members) > 1:
        listed = parsed["ha_udi_list"]
        assert {k.lower() for k in listed} == {m.role.value.lower() for m in members}


def test_all_and_tech_support_values(state: tuple[str, Agent, Session]) -> None:
    _, agent, session = state
    _, everything = run(session, "show license all")
    _, tech = run(session, "show license tech support")
    summary = agent.usage_summary()
    short = everything["usage_report_summary"]
    assert int(short["total"]) == summary.total
    assert int(short["available_to_report"]) == summary.available_to_report
    assert int(short["collecting_data"]) == summary.collecting
    assert everything["product_information"]["udi"] == {"pid": agent.udi.pid, "sn": agent.udi.sn}
    assert everything["agent_version"]["smart_agent_for_licensing"] == render.agent_version()
    counts = {n: u["count"] for n, u in everything["license_usage"]["license_name"].items()}
    assert counts == {f"{u.name} ({u.display_name}):": u.count for u in agent.licenses_in_use()}
    full = tech["usage_report_summary"]
    assert full["total"] == summary.total
    assert full["total_acknowledged_received"] == summary.acknowledged
    assert full["collecting_data"] == summary.collecting
    assert tech["other_info"]["software_id"] == agent.catalog.platform.software_id
    jobs = tech["upcoming_scheduled_jobs"]
    now = agent.clock.now()
    assert jobs["current_time"] == device_time(now)
    expected = {
        job.name.lower().replace(" ", "_"): job.line(now).split(": ", 1)[1]
        for job in agent.scheduled_jobs()
    }
    assert {key: jobs[key] for key in expected} == expected  # every job, parsed as we print it
    handles = tech["license_usage"]["handle"]
    assert sorted(h["license"] for h in handles.values()) == sorted(
        u.name for u in agent.licenses_in_use()
    )


def test_rum_and_eventlog_values(state: tuple[str, Agent, Session]) -> None:
    _, agent, session = state
    _, rum = run(session, "show license rum id all")
    reports = {r.report_id: r for r in agent.reports()}
    listed = rum["smart_license_usage_reports"]
    assert set(listed) == set(reports)
    for report_id, row in listed.items():
        assert row["state"] == reports[report_id].state
        assert row["feature_name"] == reports[report_id].license
    command, detail = run(session, "show license rum id {report} detail")
    report_id = int(command.split()[4])
    shown = detail["report_id"][str(report_id)]
    info = reports[report_id]
    assert shown["state"] == info.state
    assert shown["previous_report_id"] == str(info.previous_report_id)
    assert shown["start_time"] == device_time(info.start_time)
    _, events = run(session, "show license eventlog 2")
    expected = [e.line.split(" UTC ", 1)[1] for e in agent.eventlog(2)]
    assert [e["log_message"] for e in events["event_log"]] == expected


def test_history_and_authorization_values(state: tuple[str, Agent, Session]) -> None:
    name, agent, session = state
    _, history = run(session, "show license history message")
    imports = history["import_message_history"]
    assert (imports["rum_ack"] == "Imported") == (name == "policy")
    assert (imports["auth"] == "Imported") == (name == "slac")
    assert (imports["trust_code"] == "Imported") == (name in ("trust", "ha"))
    _, auth = run(session, "show license authorization")
    expected = "SMART AUTHORIZATION" if agent.authorization_codes() else "NOT INSTALLED"
    assert auth["status"] == expected  # the parser keeps two words
    assert auth["overall status"]["active"]["sn"] == agent.udi.sn
