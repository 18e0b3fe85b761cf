"""Trust across the air gap at the authority: a `license smart save trust-request` file in, a
trust-code file out (reference §3.5 step 6), through the upload service, the REST API and the
CLI; every refusal of the online path by name, each recorded; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from smartlic.authority.accounts.models import AuditEntry
from smartlic.authority.cli import app
from smartlic.authority.db import transaction
from smartlic.authority.trust.models import ProductInstance
from smartlic.authority.trust.service import MAX_FILE_REQUESTS
from smartlic.authority.uploads.models import Upload, UploadStatus
from smartlic.authority.uploads.service import UploadService
from smartlic.authority.usage.service import UsageService
from smartlic.core import xmlfile
from smartlic.core.artifacts import PolicyGrant, TrustCode, TrustRequest
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import Verifier
from smartlic.core.protocol import InstanceState
from smartlic.core.udi import HaSet
from tests.authority.conftest import Server
from tests.authority.helpers import DAY, T0, Device, World

runner = CliRunner()
HOUR = 3600


def saved_request(
    device: Device, *, timestamp: int = T0, key: SigningKey | None = None, ha: HaSet | None = None
) -> Envelope:
    """What `license smart save trust-request` writes for one UDI: no ID token."""
    request = TrustRequest(
        device.udi,
        ha or device.ha,
        device.key.public,
        timestamp,
        secrets.token_hex(16),
        None,
        "switch-1",
    )
    return sign(
        ArtifactType.TRUST_REQUEST,
        request.to_json(),
        key or device.key,
        SigningType.BUILTIN,
        sudi=device.udi,
    )


def trust_file(*envelopes: Envelope) -> bytes:
    return xmlfile.write(list(envelopes))


def submit(world: World, data: bytes, va_id: str | None = None) -> Upload:
    return UploadService(world.authority).submit(
        world.account_id, va_id or world.va_id, data, actor="test", file_name="trust.xml"
    )


def codes_in(world: World, answer: bytes) -> list[TrustCode]:
    verifier = world.verifier()
    envelopes = xmlfile.read(answer)
    verifier.update([e for e in envelopes if e.type is ArtifactType.KEYSET])
    return [
        TrustCode.from_json(verifier.verify(e, ArtifactType.TRUST_CODE, now=T0))
        for e in envelopes
        if e.type is ArtifactType.TRUST_CODE
    ]


def instance_of(world: World, device: Device) -> ProductInstance | None:
    with world.authority.sessions() as s:
        return s.scalar(select(ProductInstance).where(ProductInstance.udi == str(device.udi)))


def place_in(world: World, device: Device, account_id: str, va_id: str) -> None:
    """Register ``device`` where it reports usage (online), as a real instance would."""
    with transaction(world.authority.sessions) as s:
        UsageService(world.authority).ingest(
            s, account_id, va_id, device.udi, [device.rum()], InstanceState()
        )


def refusals(world: World) -> list[str]:
    with world.authority.sessions() as s:
        rows = s.scalars(
            select(AuditEntry).where(
                AuditEntry.account_id == world.account_id, AuditEntry.outcome == "refused"
            )
        )
        return [r.detail for r in rows]


def test_trust_request_file_gives_a_trust_code_file(world: World) -> None:
    device = Device()
    row = submit(world, trust_file(saved_request(device, timestamp=T0 - 3 * DAY)))
    assert row.status == UploadStatus.PROCESSED and row.kind == "trust-request"
    assert row.result is not None and row.result_name == "TrustCode_trust.xml"
    envelopes = xmlfile.read(row.result)
    assert [e.type for e in envelopes] == [
        ArtifactType.KEYSET,
        ArtifactType.TRUST_CODE,
        ArtifactType.POLICY,
    ]
    (code,) = codes_in(world, row.result)
    assert code.udi == device.udi and code.public_key == device.key.public
    assert (code.account.smart_account, code.account.virtual_account) == ("SA-Test", "VA-One")
    assert code.issued_at == T0 and code.serial == 1
    grant = PolicyGrant.from_json(
        world.verifier().verify(envelopes[2], ArtifactType.POLICY, now=T0)
    )
    assert grant.udi == device.udi
    instance = instance_of(world, device)
    assert instance is not None and instance.trusted and instance.va_id == world.va_id
    assert instance.public_key == device.key.public.b64()
    with world.authority.sessions() as s:
        issued = s.scalars(select(AuditEntry).where(AuditEntry.action == "trust_code.issue"))
        assert [e.subject for e in issued] == [str(device.udi)]


def test_the_same_file_again_gets_the_same_answer(world: World) -> None:
    data = trust_file(saved_request(Device()))
    first = submit(world, data)
    again = submit(world, data)
    assert again.id == first.id and again.result == first.result
    (code,) = codes_in(world, again.result or b"")
    assert code.serial == 1  # nothing issued twice
    with world.authority.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Upload)) == 1


def test_every_udi_of_an_ha_set_gets_its_code(world: World) -> None:
    active, standby = Device(), Device()
    ha = HaSet.from_json(
        [
            {"role": "Active", "sudi": active.udi.to_sudi()},
            {"role": "Standby", "sudi": standby.udi.to_sudi()},
        ],
        "ha",
    )
    data = trust_file(saved_request(active, ha=ha), saved_request(standby, ha=ha))
    row = submit(world, data)
    assert row.status == UploadStatus.PROCESSED, row.error
    assert [c.udi for c in codes_in(world, row.result or b"")] == [active.udi, standby.udi]


def test_instance_registered_in_another_virtual_account_is_sa_va_mismatch(world: World) -> None:
    device = Device()
    place_in(world, device, world.account_id, world.other_va_id)
    row = submit(world, trust_file(saved_request(device)))
    assert row.status == UploadStatus.FAILED and row.error_code == "ACCOUNT_MISMATCH"
    assert "Smart Account-Virtual Account mismatch" in (row.error or "")
    assert row.result is None
    instance = instance_of(world, device)
    assert instance is not None and not instance.trusted and instance.va_id == world.other_va_id
    assert any("ACCOUNT_MISMATCH" in detail for detail in refusals(world))


def test_instance_of_another_smart_account_is_refused(world: World) -> None:
    device = Device()
    place_in(world, device, world.other_account_id, world.other_account_va_id)
    row = submit(world, trust_file(saved_request(device)))
    assert row.status == UploadStatus.FAILED and row.error_code == "ACCOUNT_MISMATCH"
    instance = instance_of(world, device)
    assert instance is not None and instance.account_id == world.other_account_id
    assert not instance.trusted


def test_bad_proof_of_possession_is_refused(world: World) -> None:
    device = Device()
    row = submit(world, trust_file(saved_request(device, key=SigningKey.generate())))
    assert row.status == UploadStatus.FAILED and row.error_code == "SIGNATURE_MISMATCH"
    assert "proof of possession" in (row.error or "")
    assert instance_of(world, device) is None


def test_tampered_request_is_refused(world: World) -> None:
    device = Device()
    data = trust_file(saved_request(device)).replace(b"switch-1", b"switch-9")
    row = submit(world, data)
    assert row.status == UploadStatus.FAILED and row.error_code == "SIGNATURE_MISMATCH"
    assert instance_of(world, device) is None


def test_request_from_a_clock_more_than_an_hour_ahead_is_timestamp_mismatch(
    world: World,
) -> None:
    device = Device()
    row = submit(world, trust_file(saved_request(device, timestamp=T0 + HOUR + 60)))
    assert row.status == UploadStatus.FAILED and row.error_code == "TIMESTAMP_MISMATCH"
    assert "timestamp mismatch" in (row.error or "")
    near = submit(world, trust_file(saved_request(Device(), timestamp=T0 + HOUR - 60)))
    assert near.status == UploadStatus.PROCESSED


def test_one_refused_request_refuses_the_whole_file(world: World) -> None:
    good, bad = Device(), Device()
    data = trust_file(saved_request(good), saved_request(bad, key=SigningKey.generate()))
    assert submit(world, data).status == UploadStatus.FAILED
    assert instance_of(world, good) is None


def test_files_that_are_not_trust_requests_are_refused_by_kind(world: World) -> None:
    anchor = world.authority.keys.anchor()
    device = Device()
    cases = {
        b"hello": "MALFORMED",
        b"<smartLicense><oops/></smartLicense>": "MALFORMED",
        b"<smartLicense>": "MALFORMED",
        xmlfile.write([anchor]): "WRONG_ARTIFACT_TYPE",
        trust_file(saved_request(device), device.rum()): "MALFORMED",
        trust_file(*[saved_request(Device()) for _ in range(MAX_FILE_REQUESTS + 1)]): "OVERSIZED",
        trust_file(saved_request(device), saved_request(device)): "MALFORMED",
    }
    for data, code in cases.items():
        row = submit(world, data)
        assert (row.status, row.error_code) == (UploadStatus.FAILED, code), (data[:60], row.error)
        assert row.error
    assert instance_of(world, device) is None


def test_trust_file_over_http(server: Server) -> None:
    world = server.world
    device = Device()
    url = f"/api/v1/virtual-accounts/{world.va_id}/usage-files"
    data = trust_file(saved_request(device))
    with server.client(world.api_token()) as client:
        r = client.post(url, content=data, params={"file_name": "sw1-trust.xml"})
        again = client.post(url, content=data)
        bad = client.post(url, content=trust_file(saved_request(Device(), timestamp=T0 + DAY)))
        listed = client.get("/api/v1/uploads").json()
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert 'filename="TrustCode_sw1-trust.xml"' in r.headers["content-disposition"]
    assert again.content == r.content and again.headers["x-upload-id"] == r.headers["x-upload-id"]
    (code,) = codes_in(world, r.content)
    assert code.udi == device.udi
    assert bad.status_code == 403 and bad.json()["code"] == "TIMESTAMP_MISMATCH"
    assert bad.headers["x-upload-id"]
    statuses = {item["id"]: item["status"] for item in listed["items"]}
    assert statuses == {r.headers["x-upload-id"]: "processed", bad.headers["x-upload-id"]: "failed"}


def test_trust_file_needs_a_writer_in_that_virtual_account(server: Server) -> None:
    world = server.world
    data = trust_file(saved_request(Device()))
    with server.client(world.api_token(role="read-only")) as client:
        reader = client.post(f"/api/v1/virtual-accounts/{world.va_id}/usage-files", content=data)
    with server.client(world.api_token()) as client:
        foreign = client.post(
            f"/api/v1/virtual-accounts/{world.other_account_va_id}/usage-files", content=data
        )
    with server.client(world.api_token(va_id=world.other_va_id, role="va-user")) as client:
        other_va = client.post(f"/api/v1/virtual-accounts/{world.va_id}/usage-files", content=data)
    assert reader.status_code == 403
    assert foreign.status_code == 404
    assert other_va.status_code == 404
    with world.authority.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Upload)) == 0


def _cli(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data", str(data)])
    assert result.exit_code == code, result.output
    return result.output


def test_cli_trust_issue_file(tmp_path: Path) -> None:
    """As an admin runs it (the CLI's own SQLite database and real clock)."""
    data = tmp_path / "auth"
    _cli(data, "init")
    _cli(data, "account", "create", "SA-X")
    _cli(data, "va", "create", "--account", "SA-X", "Lab")
    device = Device()
    request = tmp_path / "trust.xml"
    request.write_bytes(trust_file(saved_request(device)))
    out = tmp_path / "trustcode.xml"
    scope = ["--account", "SA-X", "--va", "Lab"]
    printed = json.loads(
        _cli(
            data,
            "trust",
            "issue-file",
            *scope,
            "--request",
            str(request),
            "--out",
            str(out),
            "--json",
        )
    )
    assert printed["udis"] == [str(device.udi)] and printed["file"] == str(out)
    (anchor,) = xmlfile.read(_anchor(data, tmp_path))
    verifier = Verifier.from_anchor(anchor)
    (code_env,) = [e for e in xmlfile.read(out.read_bytes()) if e.type is ArtifactType.TRUST_CODE]
    code = TrustCode.from_json(
        verifier.verify(code_env, ArtifactType.TRUST_CODE, now=code_env_time(code_env))
    )
    assert code.udi == device.udi and code.account.virtual_account == "Lab"

    usage = tmp_path / "usage.xml"
    usage.write_bytes(xmlfile.write([device.rum()]))
    wrong = _cli(
        data, "trust", "issue-file", *scope, "--request", str(usage), "--out", str(out), code=1
    )
    assert "usage-xml" in wrong

    again = tmp_path / "again.xml"
    _cli(data, "upload", "result", "--account", "SA-X", printed["upload"], str(again))
    assert again.read_bytes() == out.read_bytes()
    missing = _cli(data, "upload", "result", "--account", "SA-X", "nope", str(again), code=1)
    assert "no such upload" in missing

    (item,) = json.loads(_cli(data, "upload", "list", "--account", "SA-X", "--json"))["items"]
    assert (item["kind"], item["status"], item["file_name"]) == (
        "trust-request",
        "processed",
        "trust.xml",
    )


def _anchor(data: Path, tmp_path: Path) -> bytes:
    _cli(data, "keys", "show", "--anchor", str(tmp_path / "anchor.xml"))
    return (tmp_path / "anchor.xml").read_bytes()


def code_env_time(envelope: Envelope) -> int:
    issued: int = envelope.payload_json()["issued_at"]
    return issued
