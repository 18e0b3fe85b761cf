"""pyATS/Unicon ``os: iosxe`` connects with its default init commands, then Genie parses."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.shell.server import PASSWORD, SECRET, USERNAME, Running, running
from tests.shell.states import build

loader = pytest.importorskip("pyats.topology.loader")
pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="Unicon runs the ssh client")

TESTBED_YAML = """
devices:
  switch-1:
    os: iosxe
    type: switch
    credentials:
      default: {{username: {user}, password: {password}}}
      enable: {{password: {secret}}}
    connections:
      cli:
        protocol: ssh
        ip: 127.0.0.1
        port: {port}
        ssh_options: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
"""


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    agent = build("ha", Path(tmp_path_factory.mktemp("unicon")))
    with running(agent) as served:
        yield served
    agent.close()


def test_connect_and_parse(instance: Running, tmp_path: Path) -> None:
    testbed_file = tmp_path / "testbed.yaml"
    testbed_file.write_text(
        TESTBED_YAML.format(user=USERNAME, password=PASSWORD, secret=SECRET, port=instance.ssh_port)
    )
    testbed = loader.load(str(testbed_file))
    device = testbed.devices["switch-1"]
    device.connect(log_stdout=False, connection_timeout=30)
    try:
        device.settings.POST_DISCONNECT_WAIT_SEC = 0
        parsed = device.parse("show license summary")
        rows = {row["license"]: row for row in parsed["license_usage"].values()}
        uses = instance.agent.licenses_in_use()
        assert {name: row["count"] for name, row in rows.items()} == {
            u.name: str(u.count) for u in uses
        }
        assert parsed["account_information"]["smart_account"] == "SA-Test"
        udi = device.parse("show license udi")
        assert set(udi["ha_udi_list"]) == {"active", "standby", "member"}
        device.configure("license smart transport smart")
        assert instance.agent.config.transport == "smart"
        # Unicon's init sent "no logging console": the device keeps it for every session.
        assert "no logging console" in device.execute("show running-config")
    finally:
        device.disconnect()
