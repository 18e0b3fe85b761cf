"""The command line without a front end: IOS parsing, modes, commands wired to the agent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartlic.core import xmlfile
from smartlic.instance import Agent
from smartlic.instance.shell.session import STARTUP_FILE, Device, Session
from smartlic.instance.shell.tree import apply_filters
from tests.instance.mini_authority import UDI, MiniAuthority
from tests.shell.states import build


@pytest.fixture
def authority() -> MiniAuthority:
    return MiniAuthority()


@pytest.fixture
def agent(tmp_path: Path, authority: MiniAuthority) -> Iterator[Agent]:
    agent = build("fresh", tmp_path, authority)
    yield agent
    agent.close()


@pytest.fixture
def device(agent: Agent) -> Device:
    return Device(agent, enable_secret="sec")


@pytest.fixture
def sess(device: Device) -> Session:
    return device.session(privileged=True)


def run(session: Session, *lines: str) -> str:
    return "".join(session.execute(line) for line in lines)


# --- modes and prompts -----------------------------------------------------------------------


def test_modes_and_prompts(device: Device) -> None:
    session = device.session()
    assert session.prompt == "switch-1>"
    assert "% Invalid input" in session.execute("configure terminal")
    session.execute("enable")
    assert session.prompt == "Password: "
    session.execute("wrong")
    assert session.prompt == "Password: "
    session.execute("sec")
    assert session.prompt == "switch-1#"
    run(session, "config term")
    assert session.prompt == "switch-1(config)#"
    run(session, "line console 0")
    assert session.prompt == "switch-1(config-line)#"
    run(session, "exec-timeout 0 0", "exit")
    assert session.prompt == "switch-1(config)#"
    run(session, "end")
    assert session.prompt == "switch-1#"
    run(session, "disable")
    assert session.prompt == "switch-1>"
    run(session, "exit")
    assert session.closed


def test_three_bad_secrets(device: Device) -> None:
    session = device.session()
    session.execute("enable")
    assert session.execute("a") == ""
    assert session.execute("b") == ""
    assert session.execute("c") == "% Bad secrets\n\n"
    assert session.prompt == "switch-1>"


def test_enable_without_a_secret(agent: Agent) -> None:
    session = Device(agent).session()
    session.execute("en")
    assert session.prompt == "switch-1#"


# --- IOS parsing -----------------------------------------------------------------------------


def test_invalid_input_marks_the_bad_word(sess: Session) -> None:
    out = sess.execute("show license bogus")
    marker, message = out.splitlines()[:2]
    assert message == "% Invalid input detected at '^' marker."
    assert marker.index("^") == len("switch-1#show license ")


def test_incomplete_and_ambiguous(sess: Session) -> None:
    assert sess.execute("show license rum") == "% Incomplete command.\n\n"
    assert sess.execute("show license s") == '% Ambiguous command:  "show license s"\n'
    assert sess.execute("sh lic st").startswith("Utility:")


def test_abbreviations(sess: Session) -> None:
    assert run(sess, "term len 0", "term width 511") == ""
    assert sess.length == 0
    assert sess.width == 511
    assert sess.execute("sh lic sum") == sess.execute("show license summary")
    assert sess.execute("sh ver").startswith("Cisco IOS XE Software, Version 17.09.02")


def test_help(sess: Session) -> None:
    listing = sess.execute("show license ?")
    assert "  summary" in listing
    assert "  tech" in listing
    assert sess.execute("show lic?") == "license  \n\n"
    assert "<cr>" in sess.execute("show license summary ?")
    assert sess.execute("show license rum id ?").splitlines()[0].strip().startswith("all")
    assert "% Unrecognized command" in sess.execute("zzz?")


def test_filters(sess: Session) -> None:
    status = sess.execute("show license status")
    assert sess.execute("show license status | include Type") == "  Type: cslu\n"
    assert sess.execute("show license status | inc Type") == "  Type: cslu\n"
    assert "Type" not in sess.execute("show license status | exclude Type")
    assert sess.execute("show license status | begin Usage Reporting").startswith(
        "Usage Reporting:"
    )
    section = sess.execute("show license status | section Transport")
    assert section.splitlines()[0] == "Transport:"
    assert all(line.startswith("  ") for line in section.splitlines()[1:])
    count = sess.execute("show license status | count days")
    expected = sum(1 for line in status.splitlines() if "days" in line)
    assert count == f"Number of lines which match regexp = {expected}\n"
    assert "Invalid input" in sess.execute("show license status | grep x")


def test_filter_with_a_bad_regex_matches_literally() -> None:
    assert apply_filters("a(b\nc\n", [("include", "a(")]) == "a(b\n"


# --- system ----------------------------------------------------------------------------------


def test_clock(sess: Session, agent: Agent) -> None:
    assert sess.execute("show clock") == "*23:13:20.000 UTC Tue Nov 14 2023\n"
    assert sess.execute("clock set 10:20:30 1 Dec 2023") == ""
    assert sess.execute("show clock") == "*10:20:30.000 UTC Fri Dec 01 2023\n"
    assert agent.clock.now() == 1701426030
    assert sess.execute("clock set 10:20:30 Dec 2 2023") == ""
    assert agent.clock.now() == 1701426030 + 86400
    assert sess.execute("clock set 25:00:00 1 Dec 2023").startswith("% Error")
    assert sess.execute("clock set 10:00:00 1 Foo 2023").startswith("% Error")


def test_logging_and_console_messages(device: Device, sess: Session) -> None:
    seen: list[str] = []
    device.subscribe(seen.append)
    sess.execute("clock set 10:20:30 1 Dec 2023")
    assert any("%SMART_LIC-5-SYSTEM_CLOCK_CHANGED" in line for line in seen)
    log = sess.execute("show logging")
    assert "%SMART_LIC-6-AGENT_READY" in log
    assert "%SMART_LIC-5-SYSTEM_CLOCK_CHANGED" in log
    run(sess, "configure terminal", "no logging console", "end")
    seen.clear()
    sess.execute("clock set 11:20:30 1 Dec 2023")
    assert seen == []
    assert "Console logging: disabled" in sess.execute("show logging")
    run(sess, "configure terminal", "logging console", "end")
    sess.execute("clock set 12:20:30 1 Dec 2023")
    assert len(seen) == 1


def test_unknown_config_lines_are_accepted(sess: Session) -> None:
    out = run(
        sess,
        "config term",
        "no logging console",
        "line console 0",
        "exec-timeout 0",
        "line vty 0 4",
        "exec-timeout 0",
        "service password-encryption",
        "end",
    )
    assert "Invalid" not in out
    config = sess.execute("show running-config")
    assert "service password-encryption" in config
    assert "line vty 0 4\n exec-timeout 0\n" in config
    run(sess, "config term")
    assert sess.execute("license smart bogus").startswith(
        " " * len("switch-1(config)#license smart ") + "^"
    )


def test_write_memory_keeps_the_device_config(device: Device, sess: Session, agent: Agent) -> None:
    run(sess, "config term", "hostname edge-7", "license boot level network-advantage", "end")
    assert sess.prompt == "edge-7#"
    assert sess.execute("write memory") == "Building configuration...\n[OK]\n"
    assert (Path(agent.store.folder) / STARTUP_FILE).exists()
    again = Device(agent)
    assert again.hostname == "edge-7"
    assert again.boot_level == ["network-advantage"]
    assert "license boot level network-advantage" in again.session(privileged=True).execute(
        "show running-config"
    )


def test_do_in_config_mode(sess: Session) -> None:
    run(sess, "configure terminal")
    assert sess.execute("do show license udi").startswith("UDI: PID:C9300-24UX")


# --- license configuration ------------------------------------------------------------------


def test_license_smart_configuration(sess: Session, agent: Agent) -> None:
    out = run(
        sess,
        "configure terminal",
        "license smart transport smart",
        "license smart url smart https://ssm.example.net/licservice/license",
        "license smart url cslu http://cslu.example.net:8182/cslu/v1/pi",
        "license smart usage interval 5",
        "license smart usage customer-tags tag2 lab-b",
        "license smart usage customer-tags tag1 lab-a",
        "license smart privacy all",
        "license smart proxy address 10.0.0.9",
        "license smart proxy port 3128",
        "license smart vrf Mgmt-vrf",
        "no license smart server-identity-check",
        "end",
    )
    assert out == "Enter configuration commands, one per line.  End with CNTL/Z.\n"
    config = agent.config
    assert config.transport == "smart"
    assert config.smart_url == "https://ssm.example.net/licservice/license"
    assert config.cslu_url == "http://cslu.example.net:8182/cslu/v1/pi"
    assert config.usage_interval_days == 5
    assert config.customer_tags == ("lab-a", "lab-b")
    assert config.privacy_hostname and config.privacy_version
    assert config.proxy == "http://10.0.0.9:3128"
    assert config.vrf == "Mgmt-vrf"
    status = sess.execute("show license status")
    assert "  URL: https://ssm.example.net/licservice/license\n" in status
    assert "    Address: 10.0.0.9\n    Port: 3128\n" in status
    assert "  Server Identity Check: False\n" in status
    assert "  Sending Hostname: no\n" in status
    running = sess.execute("show running-config")
    for line in (
        "license smart transport smart",
        "license smart usage interval 5",
        "license smart usage customer-tags tag1 lab-a",
        "license smart privacy all",
        "license smart proxy port 3128",
        "license smart vrf Mgmt-vrf",
    ):
        assert f"\n{line}\n" in running
    run(
        sess,
        "configure terminal",
        "no license smart transport",
        "no license smart url cslu",
        "no license smart usage interval",
        "no license smart privacy all",
        "no license smart proxy address",
        "no license smart vrf",
        "license smart url default",
        "end",
    )
    config = agent.config
    assert config.transport == "cslu"
    assert config.usage_interval_days == 30
    assert config.proxy is None
    assert config.vrf is None
    assert not config.privacy_hostname
    assert config.smart_url == "https://smartreceiver.cisco.com/licservice/license"


def test_transport_callhome_and_automatic(sess: Session, agent: Agent) -> None:
    run(sess, "configure terminal")
    assert sess.execute("license smart transport callhome") == ""
    assert agent.config.transport == "callhome"
    assert agent.config.effective_transport() == "smart"
    status = run(sess, "do show license status")
    assert "Transport:\n  Type: Callhome\n\n" in status  # the device prints the type only
    assert run(sess, "do show call-home smart-licensing") == (
        "Current smart-licensing transport settings:\n"
        " Smart-license messages: enabled\n"
        " Profile: CiscoTAC-1 (status: ACTIVE)\n"
        " Destination  URL(s):  https://tools.cisco.com/its/service/oddce/services/DDCEService\n"
    )
    assert "license smart transport callhome" in run(sess, "do show running-config")
    tech = run(sess, "do show license tech support")
    assert "Communication Level Allowed: DIRECT" in tech
    assert "  Default URL: https://tools.cisco.com/its/service/oddce/services/DDCEService" in tech
    # automatic: smart without a CSLU URL, cslu with one
    run(sess, "license smart transport automatic")
    assert agent.config.transport == "automatic"
    status = run(sess, "do show license status")
    assert "  Type: Automatic\n  URL: https://smartreceiver.cisco.com" in status
    assert "Smart-license messages: disabled" in run(sess, "do show call-home smart-licensing")
    run(sess, "license smart url cslu http://cslu.example:8182/cslu/v1/pi")
    status = run(sess, "do show license status")
    assert "  Type: Automatic\n  Cslu address: http://cslu.example:8182/cslu/v1/pi" in status
    run(sess, "no license smart transport")
    assert agent.config.transport == "cslu"


def test_show_call_home_parses_with_genie(sess: Session, agent: Agent) -> None:
    genie_base = pytest.importorskip("genie.conf.base")
    run(sess, "configure terminal", "license smart transport callhome", "end")
    device = genie_base.Device("pi", os="iosxe")
    device.custom.setdefault("abstraction", {})["order"] = ["os"]
    parsed = device.parse(
        "show call-home smart-licensing", output=sess.execute("show call-home smart-licensing")
    )
    assert parsed["smart_licensing_settings"] == {
        "smart_license_messages": "enabled",
        "profile": "CiscoTAC-1",
        "status": "ACTIVE",
        "destination_url": agent.config.callhome_url,
    }


def test_hostname_changes_the_agent_identity(sess: Session, agent: Agent) -> None:
    run(sess, "configure terminal", "hostname core-7")
    assert sess.prompt == "core-7(config)#"
    assert agent.identity.hostname == "core-7"
    assert agent.store.get("identity")["hostname"] == "core-7"  # persisted at once
    assert "hostname core-7" in run(sess, "do show running-config")
    assert "core-7 uptime is" in run(sess, "do show version")
    # a new Device on the same agent (a restart of the shell) keeps it
    assert Device(agent).session().prompt == "core-7>"
    assert "% Incomplete command." in run(sess, "configure terminal", "hostname")


def test_clear_eventlog_and_factory_reset(sess: Session, agent: Agent) -> None:
    assert "SAEVT" in run(sess, "show license eventlog")
    assert run(sess, "license smart clear eventlog") == ""
    assert "SAEVT" not in run(sess, "show license eventlog")
    assert agent.eventlog() == []
    reports = {r.report_id for r in agent.reports()}
    assert run(sess, "license smart factory reset") == ""
    assert not reports & {r.report_id for r in agent.reports()}  # RUM reports wiped
    assert "SAEVT_FACTORY_RESET" in run(sess, "show license eventlog")
    assert "Trust Code Installed: <none>" in run(sess, "show license status")


def test_boot_level_puts_licenses_in_use(sess: Session, agent: Agent) -> None:
    run(sess, "configure terminal", "license boot level network-essentials addon dna-essentials")
    counts = {u.name: u.count for u in agent.licenses_in_use()}
    assert counts["network-essentials"] == 1
    assert counts["dna-essentials"] == 1
    run(sess, "license boot level network-advantage")
    counts = {u.name: u.count for u in agent.licenses_in_use() if u.count}
    assert "network-essentials" not in counts
    assert "dna-essentials" not in counts
    assert counts["network-advantage"] == 1
    assert sess.execute("license boot level bogus").startswith("% Error: unknown license level")
    run(sess, "license feature hseck9", "end")
    hseck9 = next(u for u in agent.licenses_in_use() if u.name == "hseck9")
    assert hseck9.status == "NOT AUTHORIZED"


def test_save_usage_and_import_ack(sess: Session, agent: Agent, authority: MiniAuthority) -> None:
    assert sess.execute("license smart save usage all file flash:usage.xml") == ""
    saved = Path(agent.store.folder) / "flash" / "usage.xml"
    envelopes = xmlfile.read(saved.read_bytes())
    assert len(envelopes) == 2
    assert agent.usage_summary().waiting_for_ack == 2
    report_id = agent.reports()[0].report_id
    assert sess.execute(f"license smart save usage rum-Id {report_id} file flash:one.xml") == ""
    assert sess.execute("license smart save usage day 1 file bootflash:day.xml") == ""
    assert sess.execute("license smart save usage unreported file flash:u.xml") == (
        "% No usage to save\n"
    )
    authority.now = agent.clock.now()
    ack = authority.make_ack(UDI, envelopes)
    (Path(agent.store.folder) / "flash" / "ack.xml").write_bytes(xmlfile.write([ack]))
    out = sess.execute("license smart import flash:ack.xml")
    assert out.startswith("Import Data Successful")
    assert agent.usage_summary().acknowledged == 2


def test_files_stay_in_the_state_folder(sess: Session, tmp_path: Path) -> None:
    for path in ("/tmp/x.xml", "flash:../../x.xml", "tftp://1.2.3.4/x", "flash:"):
        out = sess.execute(f"license smart save usage all file {path}")
        assert out.startswith("% Error"), path
    assert not (tmp_path / "x.xml").exists()


def test_trust_request_and_refusals(sess: Session, agent: Agent) -> None:
    assert sess.execute("license smart save trust-request flash:trust.xml") == ""
    assert (Path(agent.store.folder) / "flash" / "trust.xml").exists()
    agent.configure(transport="off")
    assert sess.execute("license smart sync all").startswith("% Error")
    assert sess.execute("license smart trust idtoken abc local force").startswith("% Error")
    assert sess.execute("license smart authorization return local online").startswith("% Error")
    assert sess.execute("license smart import flash:missing.xml").startswith("% Error")


def test_show_license_family(sess: Session, agent: Agent) -> None:
    report = agent.reports()[0].report_id
    for command in (
        "show license all",
        "show license tech support",
        "show license eventlog",
        "show license eventlog 1",
        "show license rum id all",
        f"show license rum id {report}",
        f"show license rum id {report} detail",
        "show license rum feature all",
        "show license rum feature network-advantage detail",
        "show license history message",
        "show license authorization",
        "show license reservation",
        "show license data conversion",
    ):
        out = sess.execute(command)
        assert out and not out.startswith("%"), command
    assert sess.execute("show license rum feature dna-advantage").count("dna-advantage") == 1
    assert "network-advantage" not in sess.execute("show license rum feature dna-advantage")


def test_legacy_commands_say_not_applicable(sess: Session) -> None:
    for line in (
        "license smart conversion start",
        "license smart register idtoken abc",
        "license smart deregister",
        "license smart reservation request local",
    ):
        assert sess.execute(line).startswith("% This command is not applicable"), line


def test_a_failing_command_does_not_end_the_session(
    sess: Session, agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(agent, "usage_summary", broken)
    assert sess.execute("show license all").startswith("% Error: internal error (RuntimeError)")
    assert sess.execute("show license udi").startswith("UDI: ")
