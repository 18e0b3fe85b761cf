"""The utility's state without processes: credentials encrypted at rest, the CSV inventory,
preferences, /healthz and /metrics."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import httpx
import pytest

from smartlic.core.errors import ConfigurationError, FormatError
from smartlic.utility.app import create_app
from smartlic.utility.service import STATUS_BATCH, Utility
from smartlic.utility.vault import SECRET_KEY_FILE, SIGNING_KEY_FILE
from tests.utility.conftest import serve_in_thread as serve


def test_credentials_are_encrypted_with_a_private_key_file(tmp_path: Path) -> None:
    utility = Utility(tmp_path)
    utility.add_device("10.0.0.1", 443, "admin", "hunter2-secret")
    raw = (tmp_path / "utility.db").read_bytes() + (tmp_path / "utility.db-wal").read_bytes()
    assert b"hunter2-secret" not in raw
    for name in (SECRET_KEY_FILE, SIGNING_KEY_FILE):
        if name == SIGNING_KEY_FILE:
            utility.vault.signing_key()
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    row = utility.store.row("SELECT password FROM devices")
    assert row is not None
    assert utility.vault.decrypt(row["password"], "10.0.0.1:443") == "hunter2-secret"
    # Bound to the device: the blob of one device does not decrypt as another's.
    with pytest.raises(ConfigurationError):
        utility.vault.decrypt(row["password"], "10.0.0.2:443")
    # The same keys on the next start.
    assert Utility(tmp_path).vault.signing_key().key_id == utility.vault.signing_key().key_id


def test_csv_inventory(tmp_path: Path) -> None:
    utility = Utility(tmp_path)
    devices = utility.import_csv(
        "host,port,udi,username,password\n"
        '10.0.0.1,443,"PID:C9300-24UX,SN:FCW0001",admin,pw1\n'
        "10.0.0.2,8443,PID:C9300-24UX,SN:FCW0002,admin,pw2\n"
        "10.0.0.3,443,,admin,pw3\n"
    )
    assert [d["udi"] for d in devices] == [
        "PID:C9300-24UX,SN:FCW0001",
        "PID:C9300-24UX,SN:FCW0002",
        None,
    ]
    # Importing again updates in place (host and port identify a device).
    utility.import_csv("10.0.0.3,443,PID:C9300-24UX,SN:FCW0003,admin,pw3\n")
    assert len(utility.devices()) == 3
    assert utility.devices()[2]["udi"] == "PID:C9300-24UX,SN:FCW0003"
    with pytest.raises(FormatError):
        utility.import_csv("10.0.0.4,443,admin,pw\n")
    with pytest.raises(FormatError):
        utility.import_csv("10.0.0.4,443,PID:bad udi,admin,pw\n")
    assert len(utility.devices()) == 3
    assert utility.remove_device("10.0.0.1:443") == 1
    assert utility.remove_device("PID:C9300-24UX,SN:FCW0002") == 1
    assert [d["host"] for d in utility.devices()] == ["10.0.0.3"]


def test_preferences_and_http_surface(tmp_path: Path) -> None:
    utility = Utility(tmp_path)
    with pytest.raises(ConfigurationError):
        utility.configure(connected=True)
    prefs = utility.configure(
        connected=True, authority_url="http://127.0.0.1:9", authority_token="tok", account="A"
    )
    assert prefs["mode"] == "connected"
    assert prefs["authority_token"] == "set"
    assert b"tok" not in (tmp_path / "utility.db-wal").read_bytes().replace(b"token", b"")
    with serve(create_app(utility, max_body=1024)) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok", "mode": "connected"}
        metrics = httpx.get(f"{base}/metrics").text
        for name in (
            "smartlic_utility_instances",
            "smartlic_utility_reports_waiting",
            "smartlic_utility_upstream_errors_total",
        ):
            assert name in metrics
        big = httpx.post(f"{base}/cslu/v1/pi", content=b"{" + b" " * 2048 + b"}")
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "OVERSIZED"
        assert httpx.post(f"{base}/cslu/v1/pi", content=b"[]").status_code == 400


def test_collection_statuses_are_recorded_in_batches(tmp_path: Path) -> None:
    """More devices than one status batch: every one gets its status and error, the last
    partial batch included, and the inventory keeps them for `device list`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = int(sock.getsockname()[1])  # nothing listens there once the socket is closed
    utility = Utility(tmp_path)
    count = STATUS_BATCH + 6
    utility.import_csv("".join(f"127.0.0.{i},{closed},,admin,pw\n" for i in range(1, count + 1)))
    seen: list[str] = []
    results = utility.collect(parallel=4, timeout=5, on_done=lambda r: seen.append(r["device"]))
    assert len(results) == len(seen) == count
    assert [r["device"] for r in results] == [f"127.0.0.{i}:{closed}" for i in range(1, count + 1)]
    devices = utility.devices()
    assert {d["status"] for d in devices} == {"unreachable"}
    assert all(d["error"] and "ConnectError" in d["error"] for d in devices)
    assert all(d["last_collect_at"] for d in devices)
    utility.close()
