"""Robustness: identical concurrent requests, removed instances' report ids, JSON logs."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from sqlalchemy import func, select

from smartlic.authority.db import transaction
from smartlic.authority.endpoint import ProtocolService
from smartlic.authority.ops import JsonFormatter
from smartlic.authority.trust.instances import InstanceService
from smartlic.authority.usage.models import ReportTombstone, StoredAck, UsageReport
from smartlic.core.artifacts import Ack
from smartlic.core.envelope import ArtifactType
from smartlic.core.protocol import Kind, Response
from tests.authority.conftest import Server
from tests.authority.helpers import T0, Device, World, ack_of


def _race(service: ProtocolService, body: bytes, tenant: str, n: int) -> list[Response]:
    barrier = threading.Barrier(n)
    out: list[Response | BaseException] = [RuntimeError("not run")] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = service.handle(body, tenant=tenant)
        except BaseException as exc:  # a 500 in HTTP terms
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for item in out:
        if isinstance(item, BaseException):
            raise item
    return [r for r in out if isinstance(r, Response)]


def test_identical_concurrent_usage_requests(world: World) -> None:
    """Never a 500: the losers of an integrity conflict roll back and answer the stored ACK."""
    service = ProtocolService(world.authority)
    for _ in range(3):
        device = Device()  # a new UDI each round: the instance row races too
        body = device.request(
            Kind.USAGE_REPORT, reports=(device.rum(1), device.rum(2), device.rum(3))
        ).to_bytes()
        responses = _race(service, body, world.tenant, 6)
        assert [r.error_code for r in responses] == [None] * 6
        assert len({ack_of(r.artifacts).to_bytes() for r in responses}) == 1
        with world.authority.sessions() as s:
            stored = s.scalar(
                select(func.count())
                .select_from(UsageReport)
                .where(UsageReport.udi == str(device.udi))
            )
            acks = s.scalar(
                select(func.count()).select_from(StoredAck).where(StoredAck.udi == str(device.udi))
            )
        assert (stored, acks) == (3, 1)


def test_removed_instance_report_ids_stay_spent(world: World) -> None:
    service = ProtocolService(world.authority)
    device = Device()
    first = device.rum(4, report_id=T0 + 7)
    req = device.request(Kind.USAGE_REPORT, reports=(first,))
    assert service.handle(req.to_bytes(), tenant=world.tenant).error_code is None
    with transaction(world.authority.sessions) as s:
        InstanceService().remove(s, world.account_id, str(device.udi), world.authority.now())
    with world.authority.sessions() as s:
        assert s.scalar(select(func.count()).select_from(UsageReport)) == 0
        (tomb,) = s.scalars(select(ReportTombstone)).all()
        assert (tomb.udi, tomb.report_id) == (str(device.udi), T0 + 7)

    # other content under the old id: refused, nothing stored
    altered = device.request(Kind.USAGE_REPORT, reports=(device.rum(9, report_id=T0 + 7),))
    refused = service.handle(altered.to_bytes(), tenant=world.tenant)
    assert refused.error_code == "REPLAY"
    # the very same report again: acknowledged (the instance may clear it), never counted again
    again = device.request(Kind.USAGE_REPORT, reports=(first, device.rum(2, report_id=T0 + 8)))
    answer = service.handle(again.to_bytes(), tenant=world.tenant)
    assert answer.error_code is None
    ack = Ack.from_json(world.verifier().verify(ack_of(answer.artifacts), ArtifactType.ACK, now=T0))
    assert [a.report_id for a in ack.acked] == [T0 + 7, T0 + 8]
    with world.authority.sessions() as s:
        ids = s.scalars(select(UsageReport.report_id)).all()
        shown = InstanceService().show(s, world.account_id, str(device.udi))
    assert list(ids) == [T0 + 8]
    assert shown["usage"] == [{"license_name": "dna-advantage", "count": 2, "as_of": T0}]


def test_json_formatter_is_one_json_object_per_line() -> None:
    # LogRecord directly: pyATS (loaded by the shell tests) replaces the global record factory,
    # and its factory breaks logging.makeLogRecord.
    record = logging.LogRecord("smartlic.authority.access", 20, "", 0, "request", (), None)
    record.fields = {"event": "request", "route": "/x", "status": 200}
    line = JsonFormatter().format(record)
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["msg"] == "request" and obj["route"] == "/x" and obj["status"] == 200


def test_structured_logs_per_request_and_refusal(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    world = server.world
    token = world.api_token()
    device = Device()
    caplog.set_level(logging.INFO, logger="smartlic.authority.access")
    with server.client(token) as client:
        assert client.get("/api/v1/instances").status_code == 200
        assert client.get("/api/v1/virtual-accounts/nope").status_code == 404
    replay = [
        device.request(Kind.USAGE_REPORT, reports=(device.rum(n, report_id=T0 + 1),))
        for n in (1, 2)
    ]
    with server.client() as client:
        for req in replay:
            client.post(f"/cslu/v1/pi/{world.tenant}", content=req.to_bytes())
    lines = [
        json.loads(JsonFormatter().format(r))
        for r in caplog.records
        if r.name == "smartlic.authority.access"
    ]
    requests = [x for x in lines if x["event"] == "request"]
    refusals = [x for x in lines if x["event"] == "refusal"]
    assert [(x["route"], x["status"], x["code"]) for x in requests] == [
        ("/api/v1/instances", 200, None),
        ("/api/v1/virtual-accounts/{va_id}", 404, "NOT_FOUND"),
        ("/cslu/v1/pi/{tenant}", 200, None),
        ("/cslu/v1/pi/{tenant}", 409, "REPLAY"),
    ]
    assert all(x["account"] == world.account_id for x in requests)
    assert [(x["route"], x["status"], x["code"], x["account"]) for x in refusals] == [
        ("/api/v1/virtual-accounts/{va_id}", 404, "NOT_FOUND", world.account_id),
        ("/cslu/v1/pi/{tenant}", 409, "REPLAY", world.account_id),
    ]
    assert all("ms" in x and "method" in x for x in requests)
