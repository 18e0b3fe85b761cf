"""Bad input: bad signatures, reports of another UDI, unknown polls and devices, oversized and
malformed bodies, and corrupt, foreign or unrelated ACK files for Upload From Cisco (nothing
imported, a clear error)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.core import bundle, xmlfile
from smartlic.core.artifacts import (
    Account,
    Ack,
    AckedReport,
    BundleManifest,
    RumReport,
    payload_digest,
)
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import KeyEntry, KeySet, sign_keyset
from smartlic.core.protocol import Kind, Response
from smartlic.core.udi import Udi
from tests.utility import forge
from tests.utility.conftest import (
    ACCOUNT,
    VA,
    AuthorityProc,
    UtilityProc,
    connected_args,
    new_udi,
)


def _count(util: UtilityProc, table: str) -> int:
    with sqlite3.connect(util.data / "utility.db") as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608


def _post(util: UtilityProc, body: bytes) -> tuple[int, Response]:
    answer = httpx.post(util.cslu_url, content=body, timeout=30)
    return answer.status_code, Response.parse(answer.content)


def test_push_refusals(
    shared_authority: AuthorityProc, utility: Callable[..., UtilityProc]
) -> None:
    util = utility(*connected_args(shared_authority))
    udi, key = new_udi(), SigningKey.generate()
    good = forge.rum(key, udi, 1_700_000_100)

    status, reply = _post(util, forge.usage(udi, [good, forge.tampered(good)]).to_bytes())
    assert (status, reply.error_code) == (403, "SIGNATURE_MISMATCH")
    other = new_udi()
    status, reply = _post(util, forge.usage(udi, [forge.rum(key, other, 1)]).to_bytes())
    assert (status, reply.error_code) == (403, "WRONG_UDI")
    status, reply = _post(util, forge.poll(udi, "f" * 32).to_bytes())
    assert (status, reply.error_code) == (404, "NOT_FOUND")
    status, reply = _post(util, b"{not json")
    assert (status, reply.error_code) == (400, "MALFORMED")
    status, reply = _post(util, b"x" * (9 * 1024 * 1024))
    assert (status, reply.error_code) == (413, "OVERSIZED")
    assert _count(util, "reports") == 0
    # A report pushed through the tenant path of an unknown tenant: the authority refuses it,
    # the utility relays the refusal and keeps the (verified) report for a later upload.
    answer = httpx.post(
        f"{util.cslu_url}/no-such-tenant", content=forge.usage(udi, [good]).to_bytes()
    )
    assert answer.status_code == 404
    assert httpx.get(f"{util.url}/healthz").json()["status"] == "ok"


def test_disconnected_refuses_what_needs_the_authority(
    utility: Callable[..., UtilityProc],
) -> None:
    util = utility("--disconnected")
    udi = new_udi()
    hello = forge.usage(udi, [], kind=Kind.AUTHORIZATION_REQUEST)
    body = hello.to_json()
    body["body"] = {"mode": "add", "feature": "dna-advantage", "count": 1, "scope": "local"}
    import json

    status, reply = _post(util, json.dumps(body).encode())
    assert status == 503
    assert reply.error_code == "UNAVAILABLE"
    assert "disconnected" in (reply.error_message or "")


def test_cli_refuses_unknown_devices_and_bad_csv(
    utility: Callable[..., UtilityProc], tmp_path: Path
) -> None:
    util = utility("--disconnected")
    out = util.cli("collect", "PID:C9300-24UX,SN:NOPE1", check=False)
    assert out.returncode == 1
    assert "no device" in out.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("10.0.0.1,notaport,,admin,pw\n")
    out = util.cli("device", "import-csv", str(bad), check=False)
    assert out.returncode == 1
    assert "port" in out.stderr
    assert util.json("device", "list") == []
    out = util.cli("device", "remove", "42", check=False)
    assert out.returncode == 1


@dataclass
class UsageFile:
    util: UtilityProc
    path: Path
    udi: Udi
    report: Envelope

    @property
    def bundle_id(self) -> str:
        ids: list[str] = []
        with self.path.open("rb") as stream:
            for _ in bundle.read(
                stream, ArtifactType.USAGE_FILE, lambda _s, m: ids.append(m.bundle_id)
            ):
                pass
        return ids[0]


@pytest.fixture
def usage_file(
    shared_authority: AuthorityProc, utility: Callable[..., UtilityProc], tmp_path: Path
) -> UsageFile:
    util = utility("--disconnected", "--authority-keys", str(shared_authority.anchor_file))
    udi, key = new_udi(), SigningKey.generate()
    report = forge.rum(key, udi, 1_700_000_200)
    assert _post(util, forge.usage(udi, [report]).to_bytes())[0] == 202
    usage = tmp_path / "usage.tar.gz"
    util.cli("download-all", str(usage))
    return UsageFile(util, usage, udi, report)


def _foreign_ack_file(usage: UsageFile, out: Path) -> None:
    """A well-formed ACK file answering our usage file, made by another authority's keys."""
    now = int(time.time())
    root, signer = SigningKey.generate(), SigningKey.generate()
    keyset = sign_keyset(
        KeySet(1, now, root.public, (KeyEntry(signer.public, now - 60, now + 3600),)), root
    )
    rid = RumReport.from_json(usage.report.payload_json()).report_id
    ack = Ack(
        ack_id="f" * 32,
        udi=usage.udi,
        account=Account(ACCOUNT, VA),
        issued_at=now,
        acked=(AckedReport(rid, payload_digest(usage.report)),),
    )
    member = bundle.Member(
        "ACK_foreign.xml",
        xmlfile.write(
            [keyset, sign(ArtifactType.ACK, ack.to_json(), signer, SigningType.AUTHORITY)]
        ),
    )
    manifest = BundleManifest(
        bundle_id="f" * 32,
        created_at=now,
        created_by="another authority",
        entries=(bundle.entry_for(member, usage.udi, 1),),
        in_reply_to=usage.bundle_id,
    )
    signed = sign(ArtifactType.ACK_FILE, manifest.to_json(), signer, SigningType.AUTHORITY)
    with out.open("wb") as stream:
        bundle.write(stream, ArtifactType.ACK_FILE, manifest, signed, [member])


def _refused(util: UtilityProc, ack: Path, why: str) -> None:
    out = util.cli("upload-from", str(ack), check=False)
    assert out.returncode == 1, out.stdout
    assert "nothing imported" in out.stderr
    assert why in out.stderr.replace("\n", " ")
    assert _count(util, "acks") == 0
    assert util.json("status")["reports_waiting"] == 1


def test_upload_from_corrupt_ack_files(
    shared_authority: AuthorityProc, usage_file: UsageFile, tmp_path: Path
) -> None:
    util, usage = usage_file.util, usage_file.path
    ack = tmp_path / "ack.tar.gz"
    shared_authority.cli(
        "usage", "upload", "--account", ACCOUNT, "--va", VA, str(usage), "--ack", str(ack)
    )
    data = ack.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    _refused(util, truncated, "truncated")
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not an ACK file")
    _refused(util, garbage, "not a gzip")
    # Our own usage file is not an ACK file.
    _refused(util, usage, "ack_file")
    # A crash inside the import transaction leaves nothing behind either.
    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "smartlic.utility",
            "upload-from",
            str(ack),
            "--data",
            str(util.data),
        ],
        env={**os.environ, "SMARTLIC_UTILITY_FAULT": "upload_from.mid"},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert crashed.returncode == 86
    assert _count(util, "acks") == 0
    result = util.json("upload-from", str(ack))
    assert result["reports_acked"] == 1
    # Importing the same file again changes nothing.
    assert util.json("upload-from", str(ack))["reports_acked"] == 0


def test_upload_from_foreign_and_unrelated_ack_files(
    shared_authority: AuthorityProc,
    usage_file: UsageFile,
    utility: Callable[..., UtilityProc],
    tmp_path: Path,
) -> None:
    util = usage_file.util
    # Signed by another authority than the one in the preferences.
    foreign = tmp_path / "foreign.tar.gz"
    _foreign_ack_file(usage_file, foreign)
    _refused(util, foreign, "signed by key")
    # Right authority, but the answer to another utility's usage file.
    other = utility("--disconnected", name="other")
    udi, key = new_udi(), SigningKey.generate()
    assert _post(other, forge.usage(udi, [forge.rum(key, udi, 1_700_000_300)]).to_bytes())[0] == 202
    other_usage, other_ack = tmp_path / "other.tar.gz", tmp_path / "other-ack.tar.gz"
    other.cli("download-all", str(other_usage))
    shared_authority.cli(
        "usage", "upload", "--account", ACCOUNT, "--va", VA, str(other_usage), "--ack",
        str(other_ack),
    )  # fmt: skip
    _refused(util, other_ack, "did not write")


def test_collect_refuses_a_device_with_bad_reports(
    shared_authority: AuthorityProc, utility: Callable[..., UtilityProc]
) -> None:
    """A device that hands out a tampered report, or one of another UDI: nothing is stored."""
    from fastapi import FastAPI

    from tests.utility.conftest import serve_in_thread as serve

    udi, key = new_udi(), SigningKey.generate()
    good = forge.rum(key, udi, 1_700_000_400)
    handed: dict[str, Any] = {"usage": [forge.tampered(good).to_json()]}
    stub = FastAPI()

    @stub.post("/smartlic-service/close-reports")
    def close() -> dict[str, Any]:
        return {"status": "OK", "closed_reports": []}

    @stub.get("/smartlic-service/all-reports")
    def all_reports() -> dict[str, Any]:
        return handed

    util = utility(*connected_args(shared_authority))
    with serve(stub) as base:
        port = base.rsplit(":", 1)[1]
        util.cli(
            "device", "add", "--host", "127.0.0.1", "--port", port,
            "--username", "admin", "--password", "x", "--udi", str(udi),
        )  # fmt: skip
        out = util.cli("collect", "--all", "--json", check=False)
        assert out.returncode == 2
        (dev,) = util.json("device", "list")
        assert dev["status"] == "error"
        assert "SIGNATURE_MISMATCH" in dev["error"]
        handed["usage"] = [forge.rum(key, new_udi(), 1_700_000_401).to_json()]
        util.cli("collect", "--all", check=False)
        (dev,) = util.json("device", "list")
        assert "WRONG_UDI" in dev["error"]
    assert _count(util, "reports") == 0
