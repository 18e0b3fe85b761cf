"""The device REST API (/smartlic-service): the documented workflow, wrong credentials, wrong
methods and bad bodies."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from smartlic.core import xmlfile
from smartlic.core.envelope import Envelope
from smartlic.instance import Agent, ManualClock
from smartlic.instance.restapi import create_app
from tests.instance.mini_authority import UDI, MiniAuthority, serve

AUTH = ("admin", "s3cret")
BASE = "/smartlic-service"


@pytest.fixture
def client(agent: Agent) -> Iterator[httpx.Client]:
    with serve(create_app(agent, *AUTH)) as url, httpx.Client(base_url=url) as http:
        yield http


@pytest.fixture
def used(agent: Agent, clock: ManualClock) -> Agent:
    agent.use("network-advantage")
    clock.advance(3600)
    return agent


def test_collection_workflow_over_real_http(used: Agent, authority: MiniAuthority) -> None:
    """What CSLU pull and the DevNet sample client do: close, collect, upload, import the ACK."""
    with serve(create_app(used, *AUTH)) as url, httpx.Client(base_url=url, auth=AUTH) as http:
        closed = http.post(f"{BASE}/close-reports")
        assert closed.status_code == 200 and len(closed.json()["closed_reports"]) == 1
        usage = http.get(f"{BASE}/all-reports").json()["usage"]
        assert len(usage) == 1 and set(usage[0]) == {"header", "payload", "signature"}
        envelopes = [Envelope.from_json(item) for item in usage]
        assert used.usage_summary().waiting_for_ack == 1
        listed = http.get(f"{BASE}/list").json()["usage_list"]
        assert (
            listed[0]["report_id"]
            == envelopes[0].payload_json()["asset_identification"]["report_id"]
        )
        ack = xmlfile.write([authority.make_ack(UDI, envelopes)])
        imported = http.post(
            f"{BASE}/import", content=ack, headers={"Content-Type": "application/json"}
        )
        assert imported.status_code == 200, imported.text
        assert imported.json()["installed"] == ["ACK"]
    assert used.usage_summary().acknowledged == 1


def test_days_and_report_id(client: httpx.Client, used: Agent) -> None:
    client.post(f"{BASE}/close-reports", auth=AUTH)
    assert len(client.get(f"{BASE}/days", auth=AUTH).json()["usage"]) == 1
    assert len(client.get(f"{BASE}/days/0", auth=AUTH).json()["usage"]) == 1
    report_id = used.reports("CLOSED")[0].report_id
    assert len(client.get(f"{BASE}/days/{report_id}", auth=AUTH).json()["usage"]) == 1
    bad = client.get(f"{BASE}/days/abc", auth=AUTH)
    assert bad.status_code == 400 and "not a number of days" in bad.json()["message"]
    missing = client.get(f"{BASE}/days/99999999", auth=AUTH)
    assert missing.status_code == 404


def test_import_base64_policy(client: httpx.Client, agent: Agent, authority: MiniAuthority) -> None:
    body = base64.b64encode(xmlfile.write([authority.make_policy()]))
    reply = client.post(f"{BASE}/import", content=body, auth=AUTH)
    assert reply.status_code == 200 and reply.json()["installed"] == ["policy"]
    assert agent.policy.name == "Custom Policy"


@pytest.mark.parametrize(
    "auth", [None, ("admin", "wrong"), ("root", "s3cret")], ids=["none", "password", "user"]
)
def test_wrong_credentials(client: httpx.Client, auth: tuple[str, str] | None) -> None:
    for method, path in (("GET", "list"), ("POST", "close-reports"), ("POST", "import")):
        reply = client.request(method, f"{BASE}/{path}", auth=auth)
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "close-reports"),
        ("POST", "list"),
        ("DELETE", "all-reports"),
        ("PUT", "import"),
        ("GET", "import"),
        ("POST", "days"),
    ],
)
def test_wrong_methods(client: httpx.Client, method: str, path: str) -> None:
    assert client.request(method, f"{BASE}/{path}", auth=AUTH).status_code == 405


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "empty body"),
        (b"hello there", 400, "neither SLP XML nor base64"),
        (base64.b64encode(b"not xml at all"), 400, "does not hold SLP XML"),
        (b"<smartLicense><smartLicensePolicy>{", 400, "not well-formed"),
        (b"<html/>", 400, "not an SLP file"),
    ],
    ids=["empty", "garbage", "base64-garbage", "truncated", "not-slp"],
)
def test_bad_import_bodies(
    client: httpx.Client, agent: Agent, body: bytes, status: int, message: str
) -> None:
    reply = client.post(f"{BASE}/import", content=body, auth=AUTH)
    assert reply.status_code == status
    assert message in reply.json()["message"]
    assert agent.policy.is_default


def test_import_tampered_and_foreign(
    client: httpx.Client, used: Agent, authority: MiniAuthority
) -> None:
    used.close_reports()
    envelopes = [e for _, e in used.unacked_reports()]
    tampered = xmlfile.write([authority.make_ack(UDI, envelopes)]).replace(
        b'\\"ack_id\\":\\"', b'\\"ack_id\\":\\"0'
    )
    reply = client.post(f"{BASE}/import", content=tampered, auth=AUTH)
    assert reply.status_code == 403 and reply.json()["code"] == "SIGNATURE_MISMATCH"
    from tests.instance.mini_authority import OTHER_UDI

    foreign = xmlfile.write([authority.make_ack(OTHER_UDI, envelopes)])
    reply = client.post(f"{BASE}/import", content=foreign, auth=AUTH)
    assert reply.status_code == 403 and reply.json()["code"] == "WRONG_UDI"
    assert used.usage_summary().acknowledged == 0
