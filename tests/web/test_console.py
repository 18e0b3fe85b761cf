"""The utility console in the system chromium: preferences, add a device, Collect Usage with
live progress, Download All For Cisco → the portal's usage upload → Upload From Cisco."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.core import xmlfile
from smartlic.core.udi import Udi
from smartlic.instance import Agent, Identity, ManualClock
from smartlic.instance.restapi import create_app as device_app
from smartlic.utility.app import create_app as utility_app
from smartlic.utility.service import Utility
from tests.web.conftest import AuthorityWeb, serving, shot
from tests.web.test_portal import sign_in


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, Utility]]:
    utility = Utility(tmp_path / "utility")
    with serving(utility_app(utility)) as base:
        yield base, utility
    utility.close()


@pytest.fixture
def device(tmp_path: Path, authority_web: AuthorityWeb) -> Iterator[tuple[int, Agent]]:
    agent = Agent.open(
        tmp_path / "device",
        Identity(Udi.parse("PID:IE-3400-8P2S,SN:FDO2250A0PQ"), hostname="ie-line-1"),
        clock=ManualClock(int(time.time())),
        anchor=authority_web.authority.chain()[0],
    )
    agent.configure(transport="off")
    agent.use("network-advantage", 1)
    agent.clock.advance(1800)
    with serving(device_app(agent, "admin", "s3cret")) as base:
        yield int(base.rsplit(":", 1)[1]), agent


def test_console_collect_download_upload(
    page: Any,
    console: tuple[str, Utility],
    device: tuple[int, Agent],
    authority_web: AuthorityWeb,
    tmp_path: Path,
) -> None:
    base, utility = console
    port, _agent = device
    keys = tmp_path / "authority-keys.xml"
    keys.write_bytes(xmlfile.write(authority_web.authority.chain()))

    page.goto(f"{base}/console/preferences")
    page.get_by_label("Smart account").fill("Example Corp")
    page.get_by_label("Virtual account").fill("Campus")
    page.get_by_label("Authority key file (trust anchor, .xml)").set_input_files(str(keys))
    page.get_by_role("button", name="Save").click()
    assert "Saved" in page.inner_text("[role=status]")
    assert utility.preferences()["account"] == "Example Corp"
    shot(page, "console-preferences")

    page.get_by_role("link", name="Inventory").click()
    page.get_by_label("Host", exact=True).fill("127.0.0.1")
    page.get_by_label("Port", exact=True).fill(str(port))
    page.get_by_label("Scheme").select_option("http")
    page.get_by_label("User name", exact=True).fill("admin")
    page.get_by_label("Password", exact=True).fill("s3cret")
    page.get_by_role("button", name="Add").click()
    assert f"127.0.0.1:{port}" in page.inner_text("table")

    page.get_by_label(f"Select 127.0.0.1:{port}").check()
    page.get_by_role("button", name="Collect Usage").click()
    page.locator("#progress", has_text="finished").wait_for()
    progress = page.inner_text("#progress")
    assert "1 of 1 done" in progress and "1 collected" in progress, progress
    shot(page, "console-collect")
    page.get_by_role("link", name="Refresh the inventory").click()
    assert "PID:IE-3400-8P2S,SN:FDO2250A0PQ" in page.inner_text("table")
    shot(page, "console-inventory")

    page.get_by_role("link", name="Data").click()
    shot(page, "console-data")
    with page.expect_download() as usage:
        page.get_by_role("button", name="Download All For Cisco").click()
    usage_file = tmp_path / "usage.tar.gz"
    usage.value.save_as(usage_file)

    # The file goes to the authority (its portal), the ACK file comes back.
    portal = page.context.new_page()
    sign_in(portal, authority_web.base)
    portal.get_by_role("link", name="Reports").click()
    portal.get_by_label("Usage file", exact=False).set_input_files(str(usage_file))
    with portal.expect_download() as ack:
        portal.get_by_role("button", name="Upload and download the ACK file").click()
    assert ack.value.suggested_filename == "ACK_usage.tar.gz"
    ack_file = tmp_path / "ack.tar.gz"
    ack.value.save_as(ack_file)
    portal.close()

    page.get_by_label("ACK file from the authority (.tar.gz)").set_input_files(str(ack_file))
    page.get_by_role("button", name="Upload From Cisco").click()
    assert "Imported" in page.inner_text("[role=status]")
    assert utility.status()["reports_waiting"] == 0

    # A mistake, in words: Download All with nothing waiting.
    page.get_by_role("button", name="Download All For Cisco").click()
    assert "nothing to download" in page.inner_text("[role=alert]")

    # Import a CSV, then remove what was imported.
    devices_csv = tmp_path / "devices.csv"
    devices_csv.write_text("host,port,udi,username,password\n10.1.1.7,443,,admin,pw\n")
    page.goto(f"{base}/console/")
    page.get_by_label("CSV file", exact=False).set_input_files(str(devices_csv))
    page.get_by_role("button", name="Import").click()
    assert "1 imported" in page.inner_text("[role=status]")
    page.get_by_label("Select 10.1.1.7:443").check()
    page.get_by_role("button", name="Remove selected").click()
    assert "Removed" in page.inner_text("[role=status]")
    assert "10.1.1.7" not in page.inner_text("table")


def test_console_refuses_post_without_csrf(console: tuple[str, Utility]) -> None:
    base, utility = console
    refused = httpx.post(
        f"{base}/console/devices",
        data={"host": "10.0.0.1", "port": "443", "username": "a", "password": "b"},
    )
    assert refused.status_code == 403
    assert utility.devices() == []
