"""The seed excerpt's missing-policy procedures, end to end, with real processes and HTTP.

Connected to CSSM through CSLU: `license smart sync` makes the utility push the missing policy
(push), and Collect Usage re-furnishes it in the ACK (pull). CSLU disconnected: the same, then
Download All For Cisco > upload at the authority > Upload From Cisco. And a trust code through
the utility.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from smartlic.instance import Agent
from tests.utility.conftest import (
    ACCOUNT,
    DEVICE_PASSWORD,
    POLICY,
    VA,
    AuthorityProc,
    UtilityProc,
    connected_args,
    rest_device,
    utility_cli,
)


def _policy_name(agent: Agent) -> str | None:
    grant = agent.policy_grant
    return None if grant is None else grant.policy.name


def _authority_upload(auth: AuthorityProc, usage: Path, ack: Path) -> None:
    auth.cli("usage", "upload", "--account", ACCOUNT, "--va", VA, str(usage), "--ack", str(ack))


def test_push_connected_sync_installs_missing_policy(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    util = utility(*connected_args(shared_authority))
    agent = make_agent(shared_authority.anchor, util.cslu_url)
    assert agent.policy_grant is None
    result = agent.sync()
    assert result.status == "OK"
    assert result.sent_reports >= 2
    assert result.acked == result.sent_reports
    assert _policy_name(agent) == POLICY
    assert agent.usage_summary().waiting_for_ack == 0
    status = util.json("status")
    assert status["reports"] == result.sent_reports
    assert status["reports_waiting"] == 0
    assert status["acks_undelivered"] == 0
    # A later sync with nothing to report is a hello: answered, nothing missing.
    again = agent.sync()
    assert again.status == "OK"
    metrics = httpx.get(f"{util.url}/metrics").text
    assert "smartlic_utility_reports_waiting 0.0" in metrics
    assert "smartlic_utility_instances 1.0" in metrics


def test_push_connected_hello_pushes_policy_to_instance_without_reports(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    util = utility(*connected_args(shared_authority))
    agent = make_agent(shared_authority.anchor, util.cslu_url, use=False)
    # The instance must be placed first: a report through the utility places it in the VA.
    result = agent.sync()
    assert result.status == "OK"
    assert _policy_name(agent) == POLICY


def test_trust_code_through_the_utility(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    util = utility(*connected_args(shared_authority))
    agent = make_agent(shared_authority.anchor, util.cslu_url)
    result = agent.trust_idtoken(shared_authority.id_token, "local")
    assert result.status == "OK"
    assert agent.trust_code() is not None
    assert _policy_name(agent) == POLICY
    synced = agent.sync()
    assert synced.acked == synced.sent_reports >= 2


def test_push_disconnected_files_install_missing_policy(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:
    util = utility("--disconnected", "--authority-keys", str(shared_authority.anchor_file))
    agent = make_agent(shared_authority.anchor, util.cslu_url)
    result = agent.sync()
    assert result.status == "OK_POLL"
    # Nothing yet: the poll is answered OK_POLL again.
    polled = agent.poll()
    assert polled is not None
    assert polled.status == "OK_POLL"
    usage, ack = tmp_path / "usage.tar.gz", tmp_path / "ack.tar.gz"
    down = util.json("download-all", str(usage))
    assert down["reports"] == result.sent_reports
    _authority_upload(shared_authority, usage, ack)
    up = util.json("upload-from", str(ack))
    assert up["reports_acked"] == result.sent_reports
    assert up["policies"] == 1
    polled = agent.poll()
    assert polled is not None
    assert polled.status == "OK"
    assert _policy_name(agent) == POLICY
    assert agent.usage_summary().waiting_for_ack == 0
    assert util.json("status")["reports_waiting"] == 0
    assert util.json("status")["acks_undelivered"] == 0
    # Nothing left to download.
    empty = util.cli("download-all", str(tmp_path / "again.tar.gz"), check=False)
    assert empty.returncode == 1
    assert "nothing to download" in empty.stderr


def test_pull_connected_collect_refurnishes_policy(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    util = utility(*connected_args(shared_authority))
    agent = make_agent(shared_authority.anchor)
    with rest_device(agent) as port:
        util.cli(
            "device", "add", "--host", "127.0.0.1", "--port", str(port),
            "--username", "admin", "--password", "s3cret",
        )  # fmt: skip
        out = util.json("collect", "--all")
    (dev,) = out["devices"]
    assert dev["status"] == "ok", dev
    assert dev["udi"] == str(agent.udi)
    assert dev["collected"] >= 2
    assert dev["acked"] == dev["collected"]
    assert dev["delivered"] == 1
    assert _policy_name(agent) == POLICY
    assert agent.usage_summary().waiting_for_ack == 0
    (listed,) = util.json("device", "list")
    assert listed["status"] == "ok"
    # The password is not stored in the clear.
    db = (util.data / "utility.db").read_bytes()
    assert b"s3cret" not in db


def test_pull_disconnected_files_install_missing_policy(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:
    util = utility("--disconnected")
    agents = [make_agent(shared_authority.anchor) for _ in range(2)]
    with rest_device(agents[0]) as port0, rest_device(agents[1]) as port1:
        csv = tmp_path / "devices.csv"
        csv.write_text(
            "host,port,udi,username,password\n"
            f"127.0.0.1,{port0},{agents[0].udi},admin,s3cret\n"
            f"127.0.0.1,{port1},,admin,s3cret\n"
        )
        assert util.json("device", "import-csv", str(csv)) == {"imported": 2}
        out = util.json("collect", "--all")
        assert [d["status"] for d in out["devices"]] == ["waiting for ACK file"] * 2
        usage, ack = tmp_path / "usage.tar.gz", tmp_path / "ack.tar.gz"
        down = util.json("download-all", str(usage))
        assert down["instances"] == 2
        _authority_upload(shared_authority, usage, ack)
        up = util.json("upload-from", str(ack))
        assert up["acks"] == 2
        assert [d["delivered"] for d in up["delivered"]] == [1, 1]
    for agent in agents:
        assert _policy_name(agent) == POLICY
        assert agent.usage_summary().waiting_for_ack == 0
    assert json.loads(util.cli("status", "--json").stdout)["acks_undelivered"] == 0


def test_push_disconnected_next_sync_delivers_held_ack_and_policy(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:
    """Delivery "on next contact": a sync instead of the poll gets the held ACK at once."""
    util = utility("--disconnected", "--authority-keys", str(shared_authority.anchor_file))
    agent = make_agent(shared_authority.anchor, util.cslu_url)
    assert agent.sync().status == "OK_POLL"
    usage, ack = tmp_path / "usage.tar.gz", tmp_path / "ack.tar.gz"
    util.cli("download-all", str(usage))
    _authority_upload(shared_authority, usage, ack)
    util.cli("upload-from", str(ack))
    synced = agent.sync()
    assert synced.status == "OK"
    assert _policy_name(agent) == POLICY
    assert agent.usage_summary().waiting_for_ack == 0
    assert util.json("status")["acks_undelivered"] == 0


def test_scheduled_collection(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:
    agent = make_agent(shared_authority.anchor)
    with rest_device(agent) as port:
        data = tmp_path / "scheduled"
        utility_cli(
            data, "device", "add", "--host", "127.0.0.1", "--port", str(port),
            "--username", "admin", "--password", DEVICE_PASSWORD,
        )  # fmt: skip
        util = utility(*connected_args(shared_authority), "--collect-every", "1", name="scheduled")
        deadline = time.monotonic() + 30
        while _policy_name(agent) != POLICY and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _policy_name(agent) == POLICY
        (dev,) = util.json("device", "list")
        assert dev["status"] == "ok"


def test_authorization_codes_through_the_utility(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:
    util = utility(*connected_args(shared_authority))
    agent = make_agent(shared_authority.anchor, util.cslu_url)
    assert agent.sync().status == "OK"
    # Request and return online, forwarded with the utility's API token.
    code = agent.authorization_request("add", "mrp-client")
    assert code.licenses[0].license_name == "mrp-client"
    assert [c.code_id for c in agent.authorization_codes()] == [code.code_id]
    agent.authorization_return()
    assert agent.authorization_codes() == []
    # An authorization code issued at the authority but not installed: `license smart sync`
    # makes the utility push it (the seed's first procedure, for an authorization code).
    shared_authority.cli(
        "slac", "create", "--account", ACCOUNT, "--va", VA, "--udi", str(agent.udi),
        "--license", "mrp-client", str(tmp_path / "slac.xml"),
    )  # fmt: skip
    synced = agent.sync()
    assert synced.status == "OK"
    assert len(agent.authorization_codes()) == 1


def test_push_disconnected_files_give_a_policy_to_an_instance_with_no_usage(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:
    """The seed's disconnected procedure for an instance that has nothing to report: its sync
    (a hello) is remembered, Download All For Cisco writes a hello entry for it, and the ACK
    file brings its policy, installed on the next sync."""
    util = utility("--disconnected", "--authority-keys", str(shared_authority.anchor_file))
    agent = make_agent(shared_authority.anchor, util.cslu_url, use=False)
    assert agent.sync().status == "OK"
    assert agent.policy_grant is None
    usage, ack = tmp_path / "usage.tar.gz", tmp_path / "ack.tar.gz"
    down = util.json("download-all", str(usage))
    assert (down["reports"], down["hellos"], down["instances"]) == (0, 1, 1)
    _authority_upload(shared_authority, usage, ack)
    up = util.json("upload-from", str(ack))
    assert (up["acks"], up["reports_acked"], up["policies"]) == (1, 0, 1)
    assert agent.sync().status == "OK"
    assert _policy_name(agent) == POLICY
    # Asked once, answered: nothing left to download.
    again = util.cli("download-all", str(tmp_path / "again.tar.gz"), check=False)
    assert again.returncode == 1


def test_pull_disconnected_files_give_a_policy_to_a_device_with_no_usage(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:
    util = utility("--disconnected")
    agent = make_agent(shared_authority.anchor, use=False)
    with rest_device(agent) as port:
        util.cli(
            "device", "add", "--host", "127.0.0.1", "--port", str(port), "--udi", str(agent.udi),
            "--va", VA, "--username", "admin", "--password", DEVICE_PASSWORD,
        )  # fmt: skip
        (dev,) = util.json("collect", "--all")["devices"]
        assert dev["status"] == "waiting for ACK file", dev
        usage, ack = tmp_path / "usage.tar.gz", tmp_path / "ack.tar.gz"
        assert util.json("download-all", str(usage))["hellos"] == 1
        _authority_upload(shared_authority, usage, ack)
        up = util.json("upload-from", str(ack))
        assert up["policies"] == 1
        assert [d["delivered"] for d in up["delivered"]] == [1]
    assert _policy_name(agent) == POLICY
