"""The portal inventory's filters and search, the HA set and the usage history (SQLite and
PostgreSQL): time is passed in, instances report through the real ingestion."""

from __future__ import annotations

from typing import Any

import pytest

from smartlic.authority.clock import FixedClock
from smartlic.authority.context import Authority
from smartlic.authority.db import transaction
from smartlic.authority.policy.service import PolicyService
from smartlic.authority.trust.instances import InstanceService
from smartlic.authority.trust.inventory import InventoryQuery, InventoryService, grace_by_class
from smartlic.authority.trust.models import ProductInstance
from smartlic.authority.usage.history import MAX_POINTS, Point, UsageHistory
from smartlic.authority.usage.service import UsageService
from smartlic.core.artifacts import Measurement, RumReport
from smartlic.core.catalog import default_catalog
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import FormatError, NotFoundError
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import CISCO_DEFAULT, ClassOverrides
from smartlic.core.protocol import InstanceState
from smartlic.core.udi import HaMember, HaRole, HaSet, Udi
from tests.authority.helpers import DAY, T0, Device, World

from .test_protocol import trust


@pytest.fixture
def world(authority: Authority) -> World:
    return World.create(authority)


def rum(
    device: Device, license_name: str, count: int, end: int, ha: HaSet | None = None
) -> Envelope:
    """A builtin-signed report whose newest measurement ends at ``end``."""
    lic = default_catalog().get(license_name)
    device.next_report += 1
    signing = SigningType.TRUST if device.trusted else SigningType.BUILTIN
    report = RumReport(
        report_id=device.next_report,
        asset_name=default_catalog().platform.software_id,
        udi=device.udi,
        signing_type=signing,
        public_key=device.key.public,
        entitlement_tag=lic.entitlement_tag,
        license_name=lic.name,
        software_version="17.09.02",
        hostname="switch-1",
        ha=ha or device.ha,
        utility_enabled=False,
        previous_report_id=0,
        measurements=(Measurement(end - 3600, end, end, 900, 4, count),),
    )
    return sign(ArtifactType.RUM, report.to_json(), device.key, signing, sudi=device.udi)


def report(
    world: World,
    clock: FixedClock,
    device: Device,
    at: int,
    usage: dict[str, int],
    *,
    va_id: str | None = None,
    account_id: str | None = None,
    ha: HaSet | None = None,
) -> None:
    """The device reports ``usage`` at ``at`` (the authority's clock is set to it)."""
    clock.value = at
    envelopes = [rum(device, name, count, at - 60, ha) for name, count in usage.items()]
    with transaction(world.authority.sessions) as s:
        UsageService(world.authority).ingest(
            s, account_id or world.account_id, va_id or world.va_id, device.udi, envelopes,
            InstanceState(), ha=ha,
        )  # fmt: skip


def udis(world: World, now: int, account_id: str | None = None, **filters: Any) -> list[str]:
    query = InventoryQuery.parse(**filters)
    with world.authority.sessions() as s:
        rows, total = InventoryService(world.authority).page(
            s, account_id or world.account_id, query, now, limit=50
        )
    assert total == len(rows)
    return sorted(str(r["udi"]).split("SN:")[1] for r in rows)


def make(serial: str) -> Device:
    return Device(serial=serial)


def test_filters_by_trust_last_report_and_va(world: World, clock: FixedClock) -> None:
    fresh, old, trusted = make("FCW0000A001"), make("FCW0000A002"), make("FCW0000B003")
    clock.value = T0
    trust(world, trusted)
    report(world, clock, old, T0, {"network-advantage": 2})
    report(world, clock, trusted, T0 + 35 * DAY, {"dna-advantage": 1})
    report(world, clock, fresh, T0 + 40 * DAY, {"dna-advantage": 1})
    with transaction(world.authority.sessions) as s:
        # Known with neither a trust code nor a report (as a bulk import leaves it).
        s.add(
            ProductInstance(
                account_id=world.account_id, va_id=world.va_id,
                udi="PID:C9300-24UX,SN:FOC0000C004", first_seen=T0, trusted=False,
                trust_serial=0, allow_export=False,
            )
        )  # fmt: skip
    now = T0 + 41 * DAY
    assert udis(world, now) == ["FCW0000A001", "FCW0000A002", "FCW0000B003", "FOC0000C004"]
    assert udis(world, now, trust="trusted") == ["FCW0000B003"]
    assert udis(world, now, trust="untrusted") == ["FCW0000A001", "FCW0000A002"]
    assert udis(world, now, trust="none") == ["FOC0000C004"]
    assert udis(world, now, last_report="1d") == ["FCW0000A001"]
    assert udis(world, now, last_report="7d") == ["FCW0000A001", "FCW0000B003"]
    assert udis(world, now, last_report="30d") == ["FCW0000A001", "FCW0000B003"]
    assert udis(world, now, last_report="never") == ["FOC0000C004"]
    assert udis(world, now, trust="untrusted", last_report="7d") == ["FCW0000A001"]
    assert udis(world, now, va=world.va_id, trust="trusted") == ["FCW0000B003"]
    assert udis(world, now, va=world.other_va_id) == []


def test_search_by_part_of_pid_or_serial(world: World, clock: FixedClock) -> None:
    for serial in ("FCW2233L0AB", "FCW2233L0AC", "FOC2210X0AA"):
        report(world, clock, make(serial), T0, {"dna-advantage": 1})
    assert udis(world, T0, q="fcw2233") == ["FCW2233L0AB", "FCW2233L0AC"]
    assert udis(world, T0, q="0AA") == ["FOC2210X0AA"]
    assert udis(world, T0, q="C9300-24UX") == ["FCW2233L0AB", "FCW2233L0AC", "FOC2210X0AA"]
    assert udis(world, T0, q="PID:C9300-24UX,SN:FCW2233L0AC") == ["FCW2233L0AC"]
    # LIKE wildcards are text, not patterns.
    assert udis(world, T0, q="%") == []
    assert udis(world, T0, q="FCW_233") == []


def test_bad_filter_values_are_refused_with_the_allowed_ones() -> None:
    with pytest.raises(FormatError, match="trust must be one of trusted, untrusted, none"):
        InventoryQuery.parse(trust="maybe")
    with pytest.raises(FormatError, match="last report must be one of 1d, 7d, 30d, never"):
        InventoryQuery.parse(last_report="2d")
    with pytest.raises(FormatError, match="overdue must be one of yes, no"):
        InventoryQuery.parse(overdue="1")
    with pytest.raises(FormatError, match="longer than 100"):
        InventoryQuery.parse(q="X" * 101)
    query = InventoryQuery.parse(va=" va1 ", trust="trusted", last_report="never", q=" SN:F ")
    assert query.params() == {"va": "va1", "trust": "trusted", "last_report": "never", "q": "SN:F"}


def test_overdue_follows_the_policy_of_each_virtual_account(
    world: World, clock: FixedClock
) -> None:
    # Cisco default: subscription licenses every 90 days, perpetual ones never.
    assert grace_by_class(CISCO_DEFAULT) == {PolicyClass.UNENFORCED_SUBSCRIPTION: 90 * DAY}
    sub, perpetual, released = make("FCW0000S001"), make("FCW0000P002"), make("FCW0000R003")
    report(world, clock, sub, T0, {"dna-advantage": 2})
    report(world, clock, perpetual, T0, {"network-advantage": 4})
    report(world, clock, released, T0 - DAY, {"dna-advantage": 1})
    report(world, clock, released, T0, {"dna-advantage": 0, "network-advantage": 1})
    lab = make("FCW0000L004")
    report(world, clock, lab, T0, {"network-advantage": 1}, va_id=world.other_va_id)
    with transaction(world.authority.sessions) as s:
        PolicyService(world.authority).create(
            s, world.account_id, "lab-monthly", va_id=world.other_va_id,
            rules={PolicyClass.UNENFORCED_PERPETUAL: ClassOverrides(reporting_frequency=30)},
        )  # fmt: skip
    deadline = T0 + 90 * DAY
    assert udis(world, deadline, overdue="yes") == ["FCW0000L004"]
    assert udis(world, deadline + 1, overdue="yes") == ["FCW0000L004", "FCW0000S001"]
    assert udis(world, deadline + 1, overdue="no") == ["FCW0000P002", "FCW0000R003"]
    assert udis(world, T0 + 30 * DAY, overdue="yes") == []
    assert udis(world, T0 + 30 * DAY + 1, overdue="yes") == ["FCW0000L004"]
    # The page's rows say the same as the SQL filter: one rule, from core.deadlines.
    with world.authority.sessions() as s:
        rows, _ = InventoryService(world.authority).page(
            s, world.account_id, InventoryQuery(), deadline + 1, limit=50
        )
    shown = {str(r["udi"]).split("SN:")[1]: (r["overdue"], r["next_due"]) for r in rows}
    assert shown == {
        "FCW0000S001": (True, deadline),
        "FCW0000P002": (False, None),
        "FCW0000R003": (False, None),
        "FCW0000L004": (True, T0 + 30 * DAY),
    }
    # Reporting again clears it.
    report(world, clock, sub, deadline + 2, {"dna-advantage": 2})
    assert udis(world, deadline + 3, overdue="yes") == ["FCW0000L004"]


def test_another_accounts_instances_never_appear(world: World, clock: FixedClock) -> None:
    mine, theirs = make("FCW0000M001"), make("FCW0000T002")
    report(world, clock, mine, T0, {"dna-advantage": 1})
    report(
        world, clock, theirs, T0, {"dna-advantage": 1},
        va_id=world.other_account_va_id, account_id=world.other_account_id,
    )  # fmt: skip
    for filters in ({}, {"q": "FCW0000"}, {"trust": "untrusted"}, {"last_report": "1d"}):
        assert udis(world, T0, **filters) == ["FCW0000M001"]
        assert udis(world, T0, account_id=world.other_account_id, **filters) == ["FCW0000T002"]
    assert udis(world, T0 + 91 * DAY, overdue="yes") == ["FCW0000M001"]
    # Naming the other account's virtual account is refused, not answered empty.
    with pytest.raises(NotFoundError):
        udis(world, T0, va=world.other_account_va_id)
    with world.authority.sessions() as s:
        theirs_id = InstanceService().find(s, world.other_account_id, str(theirs.udi)).id
        assert UsageHistory(s, world.account_id).instance(theirs_id) == []
        assert UsageHistory(s, world.account_id).virtual_account(world.other_account_va_id) == []
        assert InventoryService(world.authority).ha_set(s, world.account_id, theirs_id) == []


def test_ha_set_as_the_instance_reported_it(world: World, clock: FixedClock) -> None:
    active = make("FOC2129Z02G")
    standby = Udi.parse("PID:C9300-24U,SN:FOC2129Z02H")
    member = Udi.parse("PID:C9300-24U,SN:FOC2129Z02J")
    ha = HaSet(
        (
            HaMember(HaRole.MEMBER, member),
            HaMember(HaRole.ACTIVE, active.udi),
            HaMember(HaRole.STANDBY, standby),
        )
    )
    report(world, clock, active, T0, {"dna-advantage": 1}, ha=ha)
    with world.authority.sessions() as s:
        row = InstanceService().find(s, world.account_id, str(active.udi))
        members = InventoryService(world.authority).ha_set(s, world.account_id, row.id)
    assert [(m.role, m.udi) for m in members] == [
        ("Active", str(active.udi)),
        ("Standby", str(standby)),
        ("Member", str(member)),
    ]


def test_usage_history_of_an_instance_and_a_virtual_account(
    world: World, clock: FixedClock
) -> None:
    one, two = make("FCW0000H001"), make("FCW0000H002")
    report(world, clock, one, T0, {"dna-advantage": 1, "network-advantage": 2})
    report(world, clock, two, T0 + DAY, {"dna-advantage": 3})
    report(world, clock, one, T0 + 2 * DAY, {"dna-advantage": 2})
    report(world, clock, two, T0 + 3 * DAY, {"dna-advantage": 0})
    with world.authority.sessions() as s:
        one_id = InstanceService().find(s, world.account_id, str(one.udi)).id
        history = UsageHistory(s, world.account_id)
        mine = {x.license_name: x.points for x in history.instance(one_id)}
        total = {x.license_name: x.points for x in history.virtual_account(world.va_id)}
    end = -60
    assert mine["dna-advantage"] == (Point(T0 + end, 1), Point(T0 + 2 * DAY + end, 2))
    assert mine["network-advantage"] == (Point(T0 + end, 2), Point(T0 + 2 * DAY + end, 2))
    # The VA total keeps each instance's newest count until it reports another.
    assert [p.count for p in total["dna-advantage"]] == [1, 4, 5, 2]
    assert [p.count for p in total["network-advantage"]] == [2, 2, 2, 2]
    assert [p.at for p in total["dna-advantage"]] == [T0 + d * DAY + end for d in range(4)]


def test_long_histories_are_bucketed(world: World) -> None:
    device = make("FCW0000K001")
    days = range(2 * MAX_POINTS)
    reports = [rum(device, "dna-advantage", day % 7, T0 + day * DAY // 2) for day in days]
    with transaction(world.authority.sessions) as s:
        UsageService(world.authority).ingest(
            s, world.account_id, world.va_id, device.udi, reports, InstanceState()
        )
    with world.authority.sessions() as s:
        (series,) = UsageHistory(s, world.account_id).virtual_account(world.va_id)
    assert MAX_POINTS // 2 < len(series.points) <= MAX_POINTS
    assert series.points[-1] == Point(
        T0 + (2 * MAX_POINTS - 1) * DAY // 2, (2 * MAX_POINTS - 1) % 7
    )
    assert [p.at for p in series.points] == sorted({p.at for p in series.points})


def test_overdue_across_virtual_accounts_on_the_same_policy(
    world: World, clock: FixedClock
) -> None:
    campus, lab = make("FCW0000V001"), make("FCW0000V002")
    report(world, clock, campus, T0, {"dna-advantage": 1})
    report(world, clock, lab, T0, {"dna-advantage": 1}, va_id=world.other_va_id)
    report(world, clock, make("FCW0000V003"), T0 + 60 * DAY, {"dna-advantage": 1})
    assert udis(world, T0 + 91 * DAY, overdue="yes") == ["FCW0000V001", "FCW0000V002"]
    assert udis(world, T0 + 91 * DAY, overdue="no") == ["FCW0000V003"]
