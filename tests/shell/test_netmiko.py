"""Netmiko ``cisco_xe`` drives the shell over real SSH, unmodified."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartlic.instance.shell.session import STARTUP_FILE
from tests.shell.server import PASSWORD, SECRET, USERNAME, Running, running
from tests.shell.states import build

netmiko = pytest.importorskip("netmiko")
pytestmark = pytest.mark.filterwarnings(
    "ignore:path is deprecated:DeprecationWarning:netmiko.utilities"
)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    agent = build("fresh", Path(tmp_path_factory.mktemp("netmiko")))
    with running(agent) as served:
        yield served
    agent.close()


@pytest.fixture
def conn(instance: Running) -> Iterator[Any]:
    connection = netmiko.ConnectHandler(
        device_type="cisco_xe",
        host="127.0.0.1",
        port=instance.ssh_port,
        username=USERNAME,
        password=PASSWORD,
        secret=SECRET,
        fast_cli=False,
    )
    yield connection
    connection.disconnect()


def test_session_enable_and_genie(instance: Running, conn: Any) -> None:
    assert conn.find_prompt() == "switch-1>"
    conn.enable()
    assert conn.find_prompt() == "switch-1#"
    parsed = conn.send_command("show license summary", use_genie=True)
    uses = {u.name: u for u in instance.agent.licenses_in_use()}
    rows = {row["license"]: row for row in parsed["license_usage"].values()}
    assert {name: row["count"] for name, row in rows.items()} == {
        name: str(u.count) for name, u in uses.items()
    }
    assert "Cisco IOS XE Software" in conn.send_command("show version")
    abbreviated = conn.send_command("sh lic sum")
    assert "network-advantage" in abbreviated
    assert conn.send_command("show license status | include Type:").strip() == "Type: cslu"


def test_textfsm_status(instance: Running, conn: Any) -> None:
    rows = conn.send_command("show license status", use_textfsm=True)
    assert isinstance(rows, list), rows
    assert rows[0]["sl_enabled"] == "ENABLED"
    assert rows[0]["transport_type"] == instance.agent.config.transport


def test_config_set_and_save(instance: Running, conn: Any) -> None:
    conn.enable()
    output = conn.send_config_set(
        [
            "license smart url cslu http://cslu.example.net:8182/cslu/v1/pi",
            "license smart usage interval 7",
            "license boot level network-essentials addon dna-essentials",
        ]
    )
    assert "Invalid input" not in output
    config = instance.agent.config
    assert config.cslu_url == "http://cslu.example.net:8182/cslu/v1/pi"
    assert config.usage_interval_days == 7
    names = {u.name for u in instance.agent.licenses_in_use() if u.count}
    assert {"network-essentials", "dna-essentials"} <= names
    saved = conn.save_config()
    assert "[OK]" in saved
    assert (Path(instance.agent.store.folder) / STARTUP_FILE).exists()
    running_config = conn.send_command("show running-config")
    assert "license smart usage interval 7" in running_config
    assert "license boot level network-essentials addon dna-essentials" in running_config
    bad = conn.send_command("show license bogus")
    assert "% Invalid input detected at '^' marker." in bad


def test_callhome_transport_and_show_call_home(instance: Running, conn: Any) -> None:
    conn.enable()
    output = conn.send_config_set(["license smart transport callhome"])
    assert "Invalid input" not in output and "% Error" not in output
    assert instance.agent.config.transport == "callhome"
    try:
        assert conn.send_command("show license status | include Type:").strip() == (
            "Type: Callhome"
        )
        parsed = conn.send_command("show call-home smart-licensing", use_genie=True)
        settings = parsed["smart_licensing_settings"]
        assert settings["smart_license_messages"] == "enabled"
        assert settings["destination_url"] == instance.agent.config.callhome_url
        rows = conn.send_command("show license status", use_textfsm=True)
        assert rows[0]["transport_type"] == "Callhome"
    finally:
        conn.send_config_set(["license smart transport cslu"])
    assert instance.agent.config.transport == "cslu"
