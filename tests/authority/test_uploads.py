"""Stored uploads (issue #7): every file uploaded is kept with who, when, VA, name, size, digest,
kind and a status (received → processing → processed / failed with its reason) and its answer;
the same file again gets the same answer and nothing is counted twice; the API lists, shows and
serves them inside the caller's scope only. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import func, select

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.db import transaction
from smartlic.authority.trust.instances import InstanceService
from smartlic.authority.trust.models import ProductInstance
from smartlic.authority.uploads.models import Upload, UploadStatus
from smartlic.authority.uploads.repository import UploadRepository
from smartlic.authority.uploads.service import (
    STALE_AFTER,
    UploadInProgressError,
    UploadService,
)
from smartlic.authority.usage.models import UsageReport
from smartlic.authority.usage.service import UsageService
from smartlic.core import xmlfile
from smartlic.core.envelope import ArtifactType
from smartlic.core.keys import SigningKey
from tests.authority.conftest import Server
from tests.authority.helpers import Device, World
from tests.authority.test_http import _usage_file
from tests.authority.test_trust_file import place_in


def submit(world: World, data: bytes, name: str = "usage.xml", va_id: str | None = None) -> Upload:
    return UploadService(world.authority).submit(
        world.account_id, va_id or world.va_id, data, actor="alice", file_name=name
    )


def stored_reports(world: World) -> int:
    with world.authority.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(UsageReport)) or 0)


def test_usage_file_is_stored_with_its_facts_and_answer(world: World) -> None:
    device = Device()
    data = xmlfile.write([device.rum(1), device.rum(2)])
    row = submit(world, data, name="C:\\exports\\sw 1 usage.xml")
    assert row.status == UploadStatus.PROCESSED and row.error is None
    assert (row.kind, row.size, row.digest) == (
        "usage-xml",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert (row.file_name, row.actor, row.va_id) == ("sw_1_usage.xml", "alice", world.va_id)
    assert row.uploaded_at == world.authority.now() and row.processed_at is not None
    assert row.result_name == "ACK_sw_1_usage.xml" and row.result_type == "application/xml"
    types = [e.type for e in xmlfile.read(row.result or b"")]
    assert types[-1] is ArtifactType.ACK and ArtifactType.KEYSET in types
    assert stored_reports(world) == 2


def test_same_usage_bundle_again_same_bytes_nothing_counted_twice(world: World) -> None:
    device = Device()
    data = _usage_file(device, [device.rum(1), device.rum(2)], SigningKey.generate())
    first = submit(world, data, name="usage.tar.gz")
    again = submit(world, data, name="renamed.tar.gz")
    assert first.status == UploadStatus.PROCESSED and first.kind == "usage-bundle"
    assert first.result_name == "ACK_usage.tar.gz" and first.result_type == "application/gzip"
    # A tar.gz ACK file has a fresh bundle id each time it is made: the stored one comes back.
    assert again.id == first.id and again.result == first.result
    assert again.file_name == "usage.tar.gz"
    assert stored_reports(world) == 2
    with world.authority.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Upload)) == 1


def test_same_file_in_another_virtual_account_is_another_upload(world: World) -> None:
    device = Device()
    data = xmlfile.write([device.rum(1)])
    assert submit(world, data).status == UploadStatus.PROCESSED
    other = submit(world, data, va_id=world.other_va_id)
    assert other.status == UploadStatus.FAILED and other.error_code == "ACCOUNT_MISMATCH"


def test_failed_upload_keeps_its_reason_and_is_processed_again_when_fixed(world: World) -> None:
    device = Device()
    place_in(world, device, world.account_id, world.other_va_id)
    data = xmlfile.write([device.rum(5)])
    failed = submit(world, data)
    assert failed.status == UploadStatus.FAILED and failed.error_code == "ACCOUNT_MISMATCH"
    assert failed.result is None and failed.result_name is None
    assert stored_reports(world) == 1  # the online report only: the file stored nothing

    with transaction(world.authority.sessions) as s:
        instance = s.scalar(select(ProductInstance).where(ProductInstance.udi == str(device.udi)))
        assert instance is not None
        InstanceService().remove(s, world.account_id, instance.id, now=0, actor="test")
    fixed = submit(world, data)
    assert fixed.id == failed.id
    assert fixed.status == UploadStatus.PROCESSED and fixed.error is None
    assert fixed.result_name == "ACK_usage.xml"


def test_a_file_being_processed_is_not_processed_twice(world: World) -> None:
    device = Device()
    data = xmlfile.write([device.rum(1)])
    now = world.authority.now()
    with transaction(world.authority.sessions) as s:
        UploadRepository(s, world.account_id).add(
            Upload(
                account_id=world.account_id,
                va_id=world.va_id,
                actor="bob",
                file_name="usage.xml",
                size=len(data),
                digest=hashlib.sha256(data).hexdigest(),
                kind="usage-xml",
                status=UploadStatus.PROCESSING.value,
                uploaded_at=now,
            )
        )
    with pytest.raises(UploadInProgressError) as refused:
        submit(world, data)
    assert refused.value.code == "CONFLICT" and "being processed" in refused.value.reason
    assert stored_reports(world) == 0
    # A worker that died mid-way leaves the row behind: later, the same file is taken again.
    world.authority.clock.advance(STALE_AFTER)  # type: ignore[attr-defined]
    resumed = submit(world, data)
    assert resumed.status == UploadStatus.PROCESSED and resumed.actor == "alice"
    assert stored_reports(world) == 1


def test_unrecognised_file_is_listed_as_failed(world: World) -> None:
    row = submit(world, b"PK\x03\x04 a zip file", name="usage.zip")
    assert (row.status, row.kind, row.error_code) == (UploadStatus.FAILED, "unknown", "MALFORMED")
    assert "neither a usage file" in (row.error or "")


def _upload_over_http(server: Server, token: str, va_id: str, data: bytes) -> str:
    with server.client(token) as client:
        r = client.post(
            f"/api/v1/virtual-accounts/{va_id}/usage-files",
            content=data,
            params={"file_name": "usage.xml"},
        )
    assert r.status_code == 200, r.text
    return str(r.headers["x-upload-id"])


def test_api_lists_shows_and_serves_uploads(server: Server) -> None:
    world = server.world
    device = Device()
    token = world.api_token()
    upload_id = _upload_over_http(server, token, world.va_id, xmlfile.write([device.rum(1)]))
    with server.client(token) as client:
        bad = client.post(f"/api/v1/virtual-accounts/{world.va_id}/usage-files", content=b"junk")
        listed = client.get("/api/v1/uploads", params={"va_id": world.va_id}).json()
        shown = client.get(f"/api/v1/uploads/{upload_id}").json()
        result = client.get(f"/api/v1/uploads/{upload_id}/result")
        failed_result = client.get(f"/api/v1/uploads/{bad.headers['x-upload-id']}/result")
        failed = client.get(f"/api/v1/uploads/{bad.headers['x-upload-id']}").json()
        missing = client.get("/api/v1/uploads/00000000-0000-0000-0000-000000000000")
    assert bad.status_code == 400 and bad.json()["code"] == "MALFORMED"
    assert listed["total"] == 2 and {i["id"] for i in listed["items"]} == {
        upload_id,
        bad.headers["x-upload-id"],
    }
    assert shown["status"] == "processed" and shown["kind"] == "usage-xml"
    assert shown["uploaded_by"].startswith("api ")
    assert shown["result_url"] == f"/api/v1/uploads/{upload_id}/result"
    assert result.status_code == 200 and result.headers["content-type"] == "application/xml"
    assert 'filename="ACK_usage.xml"' in result.headers["content-disposition"]
    assert xmlfile.read(result.content)[-1].type is ArtifactType.ACK
    assert failed["status"] == "failed" and failed["result_url"] is None
    assert "neither a usage file" in failed["error"]
    assert failed_result.status_code == 409 and failed_result.json()["code"] == "CONFLICT"
    assert missing.status_code == 404


def test_another_tenants_upload_answers_404(server: Server) -> None:
    world = server.world
    theirs = _upload_over_http(
        server,
        world.api_token(account=world.other_account_id),
        world.other_account_va_id,
        xmlfile.write([Device().rum(1)]),
    )
    va_two = _upload_over_http(
        server, world.api_token(), world.other_va_id, xmlfile.write([Device().rum(1)])
    )
    with server.client(world.api_token()) as client:
        for path in (f"/api/v1/uploads/{theirs}", f"/api/v1/uploads/{theirs}/result"):
            assert client.get(path).status_code == 404, path
        assert client.get("/api/v1/uploads").json()["total"] == 1
        foreign_va = client.get("/api/v1/uploads", params={"va_id": world.other_account_va_id})
        assert foreign_va.status_code == 404
    # A va-user of VA-One sees nothing of VA-Two.
    with transaction(world.authority.sessions) as s:
        AccountService(world.authority).create_user(
            s, world.account_id, "ops", "correct horse", "va-user", va_ids=[world.va_id]
        )
    with server.client() as client:
        session = client.post(
            "/api/v1/login",
            json={"account": "SA-Test", "username": "ops", "password": "correct horse"},
        ).json()["token"]
    with server.client(session) as client:
        for path in (f"/api/v1/uploads/{va_two}", f"/api/v1/uploads/{va_two}/result"):
            assert client.get(path).status_code == 404, path
        assert client.get("/api/v1/uploads").json()["total"] == 0
    with server.client(world.api_token(role="read-only")) as client:
        assert client.get(f"/api/v1/uploads/{va_two}").status_code == 200  # reading is allowed


def test_a_crash_while_processing_is_recorded_and_nothing_is_stored(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault (a bug, a lost database) in the middle: the work is rolled back, the upload is
    listed as failed, the error goes up; the same file later is processed normally."""
    data = xmlfile.write([Device().rum(1)])
    real = UsageService.upload

    def broken(*args: object, **kwargs: object) -> tuple[bytes, str]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(UsageService, "upload", broken)
    with pytest.raises(RuntimeError):
        submit(world, data)
    with world.authority.sessions() as s:
        (row,) = UploadRepository(s, world.account_id).page()[0]
    assert row.status == UploadStatus.FAILED and "internal error" in (row.error or "")
    assert stored_reports(world) == 0
    monkeypatch.setattr(UsageService, "upload", real)
    assert submit(world, data).status == UploadStatus.PROCESSED
    assert stored_reports(world) == 1


def test_two_identical_uploads_at_once_count_once(world: World) -> None:
    """Racing the same file: one processes it; the other gets its answer or a 409-style
    conflict while it runs — never a second ingestion."""
    device = Device()
    data = xmlfile.write([device.rum(i) for i in range(1, 21)])
    outcomes: list[object] = []

    def one() -> None:
        try:
            outcomes.append(submit(world, data).result)
        except UploadInProgressError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    answers = [o for o in outcomes if isinstance(o, bytes)]
    assert len(outcomes) == 2 and answers
    assert all(o == answers[0] for o in answers)
    assert all(o == "CONFLICT" for o in outcomes if not isinstance(o, bytes))
    assert stored_reports(world) == 20
