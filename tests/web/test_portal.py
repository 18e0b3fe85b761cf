"""The authority portal in the system chromium: sign in, tokens, inventory, files, codes, CSRF."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from smartlic.core import xmlfile
from smartlic.core.udi import Udi
from smartlic.instance import Agent, Identity, ManualClock
from tests.web.conftest import ACCOUNT, PASSWORD, USER, AuthorityWeb, shot


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/portal/")
    page.get_by_label("Smart account").fill(ACCOUNT)
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/inventory")


def make_agent(tmp_path: Path, web: AuthorityWeb, serial: str, dna: int = 1) -> Agent:
    anchor = web.authority.chain()[0]
    agent = Agent.open(
        tmp_path / serial,
        Identity(Udi.parse(f"PID:C9300-24UX,SN:{serial}"), hostname=f"sw-{serial.lower()}"),
        clock=ManualClock(int(time.time())),
        anchor=anchor,
    )
    agent.use("network-advantage", 1)
    agent.use("dna-advantage", dna)
    return agent


def test_sign_in_token_instance_and_code(
    page: Any, authority_web: AuthorityWeb, tmp_path: Path
) -> None:
    base = authority_web.base
    page.goto(f"{base}/portal/login")
    shot(page, "portal-login")
    page.get_by_label("Smart account").fill(ACCOUNT)
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert "Wrong smart account, user name or password" in page.inner_text("[role=alert]")
    sign_in(page, base)
    cookie = next(c for c in page.context.cookies() if c["name"] == "slp_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # General: create an ID token (shown once), then register an instance with it.
    page.get_by_role("link", name="General").click()
    page.get_by_label("Description").fill("campus switches")
    page.get_by_label("Maximum uses (0 = unlimited)").fill("5")
    page.get_by_role("button", name="Create Token").click()
    token = page.inner_text("#new-token").strip()
    assert len(token) > 20
    shot(page, "portal-general")
    page.goto(f"{base}/portal/general")
    assert token not in page.content()
    assert "campus switches" in page.content()

    agent = make_agent(tmp_path, authority_web, "FCW2233L0AB", dna=3)
    agent.configure(transport="smart", smart_url=f"{base}/licservice/license")
    assert agent.trust_idtoken(token, "local").status == "OK"
    agent.clock.advance(1800)
    assert agent.sync("all").status == "OK"

    page.get_by_role("link", name="Inventory").click()
    page.get_by_role("link", name="PID:C9300-24UX,SN:FCW2233L0AB").click()
    assert "trusted" in page.inner_text("main")
    assert "network-advantage" in page.inner_text("main")
    shot(page, "portal-instance")
    page.goto(f"{base}/portal/inventory")
    shot(page, "portal-inventory")

    # Licenses: dna-advantage is in use 3 times against 1 purchased: short by 2.
    page.get_by_role("link", name="Licenses").click()
    assert page.locator("tr.short").count() == 1
    assert "short by 2" in page.inner_text("tr.short")
    assert page.locator("svg[role=img] rect").count() == 6
    shot(page, "portal-licenses")
    page.get_by_label("License", exact=True).fill("mrp-client")
    page.get_by_label("Count", exact=True).fill("2")
    page.get_by_label("To", exact=True).select_option(label="Lab")
    page.get_by_role("button", name="Transfer").click()
    assert "Transfer done" in page.inner_text("[role=status]")
    assert "Lab" in page.inner_text("table")
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Export as CSV").click()
    assert b"dna-advantage" in Path(csv_download.value.path()).read_bytes()

    # Reports: an authorization code for the instance, then its file.
    page.get_by_role("link", name="Reports").click()
    page.get_by_label("UDI").fill("PID:C9300-24UX,SN:FCW2233L0AB")
    page.locator("#clicense").fill("mrp-client")
    page.get_by_role("button", name="Generate authorization code").click()
    code_id = page.inner_text("#code-id")
    with page.expect_download() as slac:
        page.locator("#code-download").click()
    (envelope,) = xmlfile.read(Path(slac.value.path()).read_bytes())
    assert code_id in envelope.payload_json()["code_id"]
    shot(page, "portal-reports")

    # The instance installs the code, returns it offline; the return code is entered here.
    agent.import_file(slac.value.path())
    returned = tmp_path / "return.xml"
    agent.authorization_return("local", "offline", path=str(returned))
    page.get_by_label("Return code", exact=False).fill(returned.read_text())
    page.get_by_role("button", name="Enter return code").click()
    page.goto(f"{base}/portal/reports")
    row = page.locator("tr", has_text=code_id)
    assert row.locator("td").last.inner_text() not in ("", "—")
    # The instance page lists the code too (a full UDI in the search opens the instance).
    page.goto(f"{base}/portal/inventory?q=PID:C9300-24UX,SN:FCW2233L0AB")
    assert code_id in page.inner_text("main")
    page.goto(f"{base}/portal/reports")

    # An error a person can act on: an unknown license.
    page.get_by_label("UDI").fill("PID:C9300-24UX,SN:FCW2233L0AB")
    page.locator("#clicense").fill("no-such-license")
    page.get_by_role("button", name="Generate authorization code").click()
    assert "What to do" in page.inner_text("[role=alert]")

    page.goto(f"{base}/portal/events?q=token")
    assert "token.create" in page.inner_text("main") or "id_token" in page.inner_text("main")
    shot(page, "portal-events")


def test_usage_file_upload_gives_ack(
    page: Any, authority_web: AuthorityWeb, tmp_path: Path
) -> None:
    agent = make_agent(tmp_path, authority_web, "FOC2210X0AA")
    agent.configure(transport="off")
    agent.clock.advance(1800)
    usage = tmp_path / "usage.xml"
    assert agent.save_usage(usage) > 0
    sign_in(page, authority_web.base)
    page.get_by_role("link", name="Reports").click()
    page.get_by_label("Usage file", exact=False).set_input_files(str(usage))
    with page.expect_download() as ack:
        page.get_by_role("button", name="Upload and download the ACK file").click()
    assert ack.value.suggested_filename == "ACK_usage.xml"
    result = agent.import_file(ack.value.path())
    assert result is not None
    assert agent.usage_summary().waiting_for_ack == 0

    # Find it by UDI, then remove it (after the confirmation dialog).
    page.get_by_role("link", name="Inventory").click()
    page.get_by_label("Find by UDI or id").fill("PID:C9300-24UX,SN:FOC2210X0AA")
    page.get_by_role("button", name="Show").click()
    assert "untrusted" in page.inner_text("main")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove product instance").click()
    page.wait_for_url("**/portal/inventory")
    assert "FOC2210X0AA" not in page.inner_text("main")


def test_post_without_csrf_token_is_refused(page: Any, authority_web: AuthorityWeb) -> None:
    base = authority_web.base
    # Signing in with the keyboard alone: Tab through the labelled fields, Enter to send.
    page.goto(f"{base}/portal/login")
    for text in (ACCOUNT, USER, PASSWORD):
        page.keyboard.press("Tab")
        page.keyboard.type(text)
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/inventory")
    session = next(c for c in page.context.cookies() if c["name"] == "slp_session")["value"]
    with httpx.Client(base_url=base, cookies={"slp_session": session}) as client:
        refused = client.post(
            "/portal/general/tokens", data={"va": authority_web.va_id, "description": "x"}
        )
        assert refused.status_code == 403
        assert "expired" in refused.text
        anonymous = httpx.post(f"{base}/portal/login", data={"account": ACCOUNT})
        assert anonymous.status_code == 403
    # Not signed in: pages send you to the sign-in page.
    assert httpx.get(f"{base}/portal/inventory").headers["location"] == "/portal/login"
