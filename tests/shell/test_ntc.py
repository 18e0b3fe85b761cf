"""ntc-templates (TextFSM) reads our ``show license status``, as Netmiko's use_textfsm does."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartlic.core.timefmt import device_time
from smartlic.instance.shell import render
from smartlic.instance.shell.session import Device
from tests.shell.states import STATES, build

ntc_parse = pytest.importorskip("ntc_templates.parse")


@pytest.mark.parametrize("name", sorted(STATES))
def test_status_parses_with_ntc_templates(name: str, tmp_path: Path) -> None:
    agent = build(name, tmp_path)
    try:
        text = Device(agent).session().execute("show license status")
        rows = ntc_parse.parse_output(
            platform="cisco_ios", command="show license status", data=text
        )
        assert len(rows) == 1
        row = rows[0]
        info = agent.status()
        smart, virtual, _ = render.account(agent)
        assert row["sl_enabled"] == "ENABLED"
        assert row["transport_type"] == render.transport_type(agent)
        assert row["smart_acct"].split(" As of ")[0] == smart
        assert row["virt_acct"] == virtual
        assert row["next_ack_deadline"] == device_time(info.next_ack_deadline)
        assert row["last_ack_received"] == device_time(info.last_ack_at)
        assert row["next_rpt_push"] == device_time(info.next_report_push)
        assert row["rpt_push_interval"].split()[0] == str(agent.config.usage_interval_days)
        if agent.config.transport == "smart":
            assert row["url"] == agent.config.smart_url
    finally:
        agent.close()
