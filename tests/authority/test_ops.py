"""Operations over real HTTP: rate limits on trust and token endpoints, Prometheus metrics."""

from __future__ import annotations

from pathlib import Path

from smartlic.authority.app import create_app
from smartlic.authority.settings import Settings
from smartlic.core.protocol import Kind, Response
from tests.authority.conftest import Server, serving
from tests.authority.helpers import Device, World


def test_trust_and_token_endpoints_are_rate_limited(world: World, tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "x", trust_per_minute=3, token_per_minute=3)
    app = create_app(settings, authority=world.authority)
    with serving(app, world) as server, server.client(world.api_token()) as client:
        statuses = []
        for _ in range(3):
            device = Device()
            req = device.request(
                Kind.TRUST_REQUEST, artifact=device.trust_request(world.id_token())
            )
            statuses.append(client.post("/cslu/v1/pi", content=req.to_bytes()))
        assert statuses[0].status_code == 200
        limited = statuses[-1]
        assert limited.status_code == 429
        assert Response.parse(limited.content).error_code == "RATE_LIMITED"
        assert int(limited.headers["Retry-After"]) >= 1
        codes = [
            client.post(f"/api/v1/virtual-accounts/{world.va_id}/id-tokens", json={}).status_code
            for _ in range(3)
        ]
        assert codes[0] == 201
        assert codes[-1] == 429


def test_metrics_count_messages_and_refusals(server: Server) -> None:
    world = server.world
    device = Device()
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),))
    with server.client() as client:
        assert client.post(f"/cslu/v1/pi/{world.tenant}", content=req.to_bytes()).status_code == 200
        client.post("/licservice/license", content=b"{}")
        text = client.get("/metrics").text
    assert 'smartlic_authority_messages_total{kind="usage_report",outcome="ok"} 1.0' in text
    assert 'smartlic_authority_refusals_total{code="MALFORMED"} 1.0' in text
    assert "smartlic_authority_reports_ingested_total 1.0" in text
    assert "smartlic_authority_ack_seconds_count 1.0" in text
