"""The portal's inventory filters and search, the instance page (HA set, usage chart) and the
licenses page's usage-over-time chart, in the system chromium."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import insert

from smartlic.authority.clock import FixedClock
from smartlic.authority.db import transaction
from smartlic.authority.trust.models import ProductInstance
from smartlic.authority.usage.service import UsageService
from smartlic.core.protocol import InstanceState
from smartlic.core.udi import HaMember, HaRole, HaSet, Udi
from tests.authority.helpers import DAY, Device
from tests.authority.test_inventory_query import rum
from tests.web.conftest import AuthorityWeb, shot
from tests.web.test_portal import sign_in

STANDBY = "PID:C9300-24UX,SN:FCW1111A009"


def ingest(web: AuthorityWeb, device: Device, at: int, usage: dict[str, int], **kw: Any) -> None:
    clock = web.authority.clock
    assert isinstance(clock, FixedClock)
    saved = clock.value
    clock.value = at
    ha = kw.get("ha")
    try:
        envelopes = [rum(device, name, count, at - 60, ha) for name, count in usage.items()]
        with transaction(web.authority.sessions) as s:
            UsageService(web.authority).ingest(
                s, web.account_id, kw.get("va_id", web.va_id), device.udi, envelopes,
                InstanceState(), ha=ha,
            )  # fmt: skip
    finally:
        clock.value = saved


def show(page: Any) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()


def shown_udis(page: Any) -> list[str]:
    links = page.locator("#instances tbody a").all_inner_texts()
    return sorted(text.split("SN:")[1] for text in links)


def test_filters_search_instance_and_usage_chart(page: Any, authority_web: AuthorityWeb) -> None:
    web = authority_web
    now = web.authority.now()
    overdue = Device(serial="FCW1111A001")
    ha = HaSet((HaMember(HaRole.ACTIVE, overdue.udi), HaMember(HaRole.STANDBY, Udi.parse(STANDBY))))
    ingest(web, overdue, now - 100 * DAY, {"dna-advantage": 1}, ha=ha)
    ingest(web, overdue, now - 95 * DAY, {"dna-advantage": 3}, ha=ha)
    ingest(web, Device(serial="FCW1111B002"), now - 3600, {"network-advantage": 2})
    lab = Device(serial="FOC2222C003")
    ingest(web, lab, now - 10 * DAY, {"dna-advantage": 1}, va_id=web.other_va_id)
    with web.authority.engine.begin() as conn:
        conn.execute(
            insert(ProductInstance),
            [
                {
                    "id": str(uuid.uuid4()), "account_id": web.account_id, "va_id": web.va_id,
                    "udi": f"PID:C9300-48P,SN:PAGE{i:04d}", "first_seen": now, "trusted": True,
                    "trust_serial": 1, "allow_export": False,
                }
                for i in range(60)
            ],
        )  # fmt: skip
    sign_in(page, web.base)
    assert "63 product instances" in page.inner_text("main")

    # Overdue: the 90-day subscription rule of the Cisco default policy has passed.
    page.get_by_label("Reporting deadline").select_option(label="overdue")
    show(page)
    assert shown_udis(page) == ["FCW1111A001"], page.url + page.inner_text("main")
    assert "overdue since" in page.inner_text("#instances")
    assert parse_qs(urlparse(page.url).query) == {"overdue": ["yes"]}
    shot(page, "portal-inventory-filtered")

    with page.expect_navigation():
        page.get_by_role("link", name="Clear the filters").click()
    page.get_by_label("Last report").select_option(label="within 1 day")
    show(page)
    assert shown_udis(page) == ["FCW1111B002"]

    page.get_by_label("Last report").select_option(label="within 30 days")
    page.get_by_label("Virtual account", exact=True).select_option(label="Lab")
    show(page)
    assert shown_udis(page) == ["FOC2222C003"]

    # Search by part of a serial or PID (a full UDI opens the instance instead).
    page.goto(f"{web.base}/portal/inventory")
    page.get_by_label("Find by UDI or id").fill("1111")
    show(page)
    assert shown_udis(page) == ["FCW1111A001", "FCW1111B002"]
    page.get_by_label("Find by UDI or id").fill("c9300-48p")
    page.get_by_label("Trust").select_option(label="untrusted (reported without a trust code)")
    show(page)
    assert shown_udis(page) == []
    assert "No product instance matches these filters" in page.inner_text("#instances")

    # Filters and pages go together: page 2 keeps the filter.
    page.get_by_label("Trust").select_option(label="trusted (trust code on record)")
    show(page)
    assert "60 product instances match the filters · page 1 of 2" in page.inner_text("main")
    with page.expect_navigation():
        page.get_by_role("link", name="Next →").click()
    assert len(shown_udis(page)) == 10
    assert parse_qs(urlparse(page.url).query)["trust"] == ["trusted"]

    # A bad value in a shared URL is refused in words.
    page.goto(f"{web.base}/portal/inventory?last_report=2d")
    assert "last report must be one of 1d, 7d, 30d, never" in page.inner_text("main")

    # The instance: its HA set as reported, and its usage over time.
    page.goto(f"{web.base}/portal/inventory?q=PID:C9300-24UX,SN:FCW1111A001")
    page.wait_for_url("**/portal/inventory/*")
    ha_rows = page.locator("#ha-set tbody tr").all_inner_texts()
    assert [r.split("\t") for r in ha_rows] == [
        ["Active", "PID:C9300-24UX,SN:FCW1111A001"],
        ["Standby", STANDBY],
    ]
    chart = page.locator("#instance-usage svg[role=img]")
    assert chart.locator("polyline[data-license=dna-advantage]").count() == 1
    assert "dna-advantage: 3 in use" in chart.locator("desc").text_content()
    assert "overdue since" in page.inner_text("main")
    page.get_by_text("The chart's data as a table").click()
    assert page.locator("#instance-usage table tbody tr").count() == 2
    page.evaluate("document.getElementById('ha-title').scrollIntoView()")
    shot(page, "portal-instance-ha-chart")

    # Licenses: one usage-over-time chart per virtual account that has usage.
    with page.expect_navigation():
        page.get_by_role("link", name="Licenses").click()
    titles = page.locator("figure.chart figcaption").all_inner_texts()
    assert titles == [
        "Licenses in use over time: Campus",
        "Licenses in use over time: Lab",
    ]
    campus = page.locator("figure.chart", has_text="Campus").locator("svg")
    assert campus.get_attribute("aria-labelledby")
    lines = campus.locator("polyline").evaluate_all("els => els.map(e => e.dataset.license)")
    assert sorted(lines) == ["dna-advantage", "network-advantage"]
    page.evaluate("document.querySelector('figure.chart').scrollIntoView()")
    shot(page, "portal-licenses-usage")
