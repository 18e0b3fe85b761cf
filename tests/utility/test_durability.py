"""Crash and outage: kill the utility between storing and forwarding and between upload and
ACK, stop the authority mid-batch, duplicate pushes, a device that disappears mid-collection.
Nothing is lost and nothing is counted twice."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from smartlic.core.errors import CommunicationError
from smartlic.core.keys import SigningKey
from smartlic.core.protocol import Response, Status
from smartlic.instance import Agent
from smartlic.utility.store import Store
from tests.utility import forge
from tests.utility.conftest import (
    POLICY,
    AuthorityProc,
    UtilityProc,
    connected_args,
    free_port,
    new_udi,
    rest_device,
)


def _authority_rows(auth: AuthorityProc, udi: object) -> int:
    with sqlite3.connect(auth.data / "authority.db") as db:
        return int(
            db.execute("SELECT COUNT(*) FROM usage_reports WHERE udi = ?", (str(udi),)).fetchone()[
                0
            ]
        )


def _utility_rows(util: UtilityProc, udi: object) -> tuple[int, int]:
    """(stored, waiting) reports of ``udi`` in the utility's state, SQLite or PostgreSQL."""
    store = Store(util.data)
    try:
        row = store.row(
            "SELECT COUNT(*), SUM(CASE WHEN ack_id IS NULL THEN 1 ELSE 0 END) FROM reports "
            "WHERE udi = ?",
            (str(udi),),
        )
    finally:
        store.close()
    return int(row[0]), int(row[1] or 0)


@pytest.mark.parametrize("point", ["push.stored", "push.uploaded"])
def test_push_survives_a_crash_of_the_utility(
    point: str,
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    util = utility(*connected_args(shared_authority), fault=point)
    agent = make_agent(shared_authority.anchor, util.cslu_url)
    with pytest.raises(CommunicationError):
        agent.sync()
    assert util.proc is not None
    assert util.proc.wait(timeout=20) == 86
    sent = len(agent.unacked_reports())
    assert sent >= 2
    # Stored before anything was answered.
    assert _utility_rows(util, agent.udi) == (sent, sent)
    expected_upstream = sent if point == "push.uploaded" else 0
    assert _authority_rows(shared_authority, agent.udi) == expected_upstream
    util.stop()
    util.start()
    result = agent.sync()
    assert result.status == "OK"
    assert result.acked == sent
    assert agent.usage_summary().waiting_for_ack == 0
    assert _utility_rows(util, agent.udi) == (sent, 0)
    assert _authority_rows(shared_authority, agent.udi) == sent
    assert agent.policy_grant is not None


def test_authority_lost_mid_batch_then_restored(
    stoppable_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    util = utility(*connected_args(stoppable_authority))
    first, second = (make_agent(stoppable_authority.anchor, util.cslu_url) for _ in range(2))
    assert first.sync().status == "OK"
    stoppable_authority.stop()
    pending = second.sync()
    assert pending.status == "OK_POLL"
    assert util.json("status")["upstream_errors"] >= 1
    assert _utility_rows(util, second.udi)[1] == pending.sent_reports
    # Still down: polling again keeps the reports and answers OK_POLL.
    polled = second.poll()
    assert polled is not None
    assert polled.status == "OK_POLL"
    stoppable_authority.start()
    # The utility sends what waits without the instance (`upload`, also on a schedule) ...
    uploaded = util.json("upload")
    assert uploaded["acked"] == pending.sent_reports
    assert uploaded["waiting"] == 0
    # ... and the instance's next poll gets its ACK.
    done = second.poll()
    assert done is not None
    assert done.status == "OK"
    assert second.usage_summary().waiting_for_ack == 0
    assert second.policy_grant is not None
    assert second.policy_grant.policy.name == POLICY
    assert _utility_rows(util, second.udi) == (pending.sent_reports, 0)
    assert _authority_rows(stoppable_authority, second.udi) == pending.sent_reports
    assert util.json("status")["acks_undelivered"] == 0


def test_a_restart_waits_for_its_port_to_be_free(tmp_path: Path) -> None:
    """What made the authority's restart fail now and then under load: its port taken for a
    moment by another socket. The server is started again once the port is free."""
    util = UtilityProc(tmp_path / "util")
    log = tmp_path / "util.log"
    holder = socket.socket()
    holder.bind(("127.0.0.1", util.port))
    holder.listen()
    refused = threading.Event()

    def free_once_refused() -> None:
        # Hold the port until a first start has failed on it, then let it go.
        while not refused.is_set():
            if log.exists() and "address already in use" in log.read_text(errors="replace"):
                refused.set()
            else:
                refused.wait(0.02)
        holder.close()

    watcher = threading.Thread(target=free_once_refused, daemon=True)
    watcher.start()
    try:
        util.start("--disconnected")
        assert refused.is_set()
        assert httpx.get(f"{util.url}/healthz", timeout=10).json()["status"] == "ok"
    finally:
        refused.set()
        watcher.join(10)
        util.stop()


def test_collect_with_authority_down_then_crash_then_restored(
    stoppable_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    util = utility(*connected_args(stoppable_authority))
    agent = make_agent(stoppable_authority.anchor)
    with rest_device(agent) as port:
        util.cli(
            "device", "add", "--host", "127.0.0.1", "--port", str(port),
            "--username", "admin", "--password", "s3cret", "--udi", str(agent.udi),
        )  # fmt: skip
        stoppable_authority.stop()
        down = util.cli("collect", "--all", "--json", check=False)
        assert down.returncode == 2
        assert '"upload failed"' in down.stdout
        stored = _utility_rows(util, agent.udi)
        assert stored[0] == stored[1] >= 2
        stoppable_authority.start()
        # Crash after the upload, before the ACK is stored: the next run gets the same ACK.
        env = {**os.environ, "SMARTLIC_UTILITY_FAULT": "collect.uploaded"}
        crashed = subprocess.run(
            [
                sys.executable,
                "-m",
                "smartlic.utility",
                "collect",
                "--all",
                "--data",
                str(util.data),
            ],
            env=env,
            capture_output=True,
            check=False,
            timeout=60,
        )
        assert crashed.returncode == 86
        assert _authority_rows(stoppable_authority, agent.udi) == stored[0]
        ok = util.json("collect", str(agent.udi))
    (dev,) = ok["devices"]
    assert dev["status"] == "ok", dev
    assert agent.usage_summary().waiting_for_ack == 0
    assert agent.policy_grant is not None
    assert _utility_rows(util, agent.udi) == (stored[0], 0)
    assert _authority_rows(stoppable_authority, agent.udi) == stored[0]


def test_duplicate_pushes_and_replays(
    shared_authority: AuthorityProc, utility: Callable[..., UtilityProc]
) -> None:
    util = utility(*connected_args(shared_authority))
    udi, key = new_udi(), SigningKey.generate()
    reports = [forge.rum(key, udi, 1_700_000_001), forge.rum(key, udi, 1_700_000_002)]
    body = forge.usage(udi, reports).to_bytes()
    answers = [httpx.post(util.cslu_url, content=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    acks = [
        [e for e in Response.parse(a.content).artifacts if e.type.value == "ack"] for a in answers
    ]
    assert acks[0] == acks[1] == acks[2]
    assert _utility_rows(util, udi) == (2, 0)
    assert _authority_rows(shared_authority, udi) == 2
    # A different report under a stored id: refused, nothing stored.
    replay = forge.usage(udi, [forge.rum(key, udi, 1_700_000_002, count=5)])
    answer = httpx.post(util.cslu_url, content=replay.to_bytes())
    assert answer.status_code == 409
    assert Response.parse(answer.content).error_code == "REPLAY"
    assert _utility_rows(util, udi) == (2, 0)


def test_disconnected_duplicate_push_is_stored_once(
    shared_authority: AuthorityProc, utility: Callable[..., UtilityProc], tmp_path: Path
) -> None:
    util = utility("--disconnected")
    udi, key = new_udi(), SigningKey.generate()
    body = forge.usage(udi, [forge.rum(key, udi, 1_700_000_010)]).to_bytes()
    first = Response.parse(httpx.post(util.cslu_url, content=body).content)
    second = Response.parse(httpx.post(util.cslu_url, content=body).content)
    assert first.status is second.status is Status.OK_POLL
    assert _utility_rows(util, udi) == (1, 1)
    down = util.json("download-all", str(tmp_path / "u.tar.gz"))
    assert down["reports"] == 1


def test_device_that_disappears_during_collection(
    shared_authority: AuthorityProc,
    utility: Callable[..., UtilityProc],
    make_agent: Callable[..., Agent],
) -> None:
    util = utility(*connected_args(shared_authority))
    alive, gone = make_agent(shared_authority.anchor), make_agent(shared_authority.anchor)
    with rest_device(gone) as gone_port:
        util.cli(
            "device", "add", "--host", "127.0.0.1", "--port", str(gone_port),
            "--username", "admin", "--password", "s3cret",
        )  # fmt: skip
    dead_port = free_port()
    util.cli(
        "device", "add", "--host", "127.0.0.1", "--port", str(dead_port),
        "--username", "admin", "--password", "x", "--udi", str(new_udi()),
    )  # fmt: skip
    with rest_device(alive) as port:
        util.cli(
            "device", "add", "--host", "127.0.0.1", "--port", str(port),
            "--username", "admin", "--password", "s3cret",
        )  # fmt: skip
        out = util.cli("collect", "--all", "--json", check=False)
    assert out.returncode == 2
    statuses = {d["port"]: d["status"] for d in util.json("device", "list")}
    assert statuses[gone_port] == "unreachable"
    assert statuses[dead_port] == "unreachable"
    assert statuses[port] == "ok"
    assert alive.policy_grant is not None
    assert alive.usage_summary().waiting_for_ack == 0


def _half_device() -> tuple[int, threading.Thread]:
    """A device that answers close-reports, then vanishes (drops every later connection)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(20)

    def run() -> None:
        first = True
        with server:
            for _ in range(6):
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(65536)
                    if first:
                        body = b'{"status": "OK", "closed_reports": []}'
                        conn.sendall(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            b"Connection: close\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
                        )
                        first = False

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return int(server.getsockname()[1]), thread


def test_device_that_vanishes_mid_collection(
    shared_authority: AuthorityProc, utility: Callable[..., UtilityProc]
) -> None:
    util = utility(*connected_args(shared_authority))
    port, _ = _half_device()
    util.cli(
        "device", "add", "--host", "127.0.0.1", "--port", str(port),
        "--username", "admin", "--password", "x", "--udi", str(new_udi()),
    )  # fmt: skip
    out = util.cli("collect", "--all", "--json", check=False)
    assert out.returncode == 2
    (dev,) = util.json("device", "list")
    assert dev["status"] == "unreachable"
    assert dev["error"]
