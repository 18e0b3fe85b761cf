"""Bulk storage of reports (``COPY`` on PostgreSQL, ``executemany`` on SQLite) under races."""

from __future__ import annotations

from sqlalchemy import func, select

from smartlic.authority.endpoint import ProtocolService
from smartlic.authority.usage.models import StoredAck, UsageReport
from smartlic.core.protocol import Kind
from tests.authority.helpers import Device, World, ack_of
from tests.authority.test_robustness import _race


def test_known_instance_racing_on_new_reports_stores_each_once(world: World) -> None:
    """The conflict is on the report rows themselves (the instance exists): the bulk insert's
    integrity error must reach the retry as one, on both databases, never as a 500."""
    service = ProtocolService(world.authority)
    device = Device()
    first = device.request(Kind.USAGE_REPORT, reports=(device.rum(1),)).to_bytes()
    assert service.handle(first, tenant=world.tenant).error_code is None
    body = device.request(
        Kind.USAGE_REPORT, reports=tuple(device.rum(n) for n in range(2, 40))
    ).to_bytes()
    responses = _race(service, body, world.tenant, 4)
    assert [r.error_code for r in responses] == [None] * 4
    assert len({ack_of(r.artifacts).to_bytes() for r in responses}) == 1
    with world.authority.sessions() as s:
        stored = s.scalar(
            select(func.count()).select_from(UsageReport).where(UsageReport.udi == str(device.udi))
        )
        acks = s.scalar(
            select(func.count()).select_from(StoredAck).where(StoredAck.udi == str(device.udi))
        )
    assert (stored, acks) == (39, 2)
