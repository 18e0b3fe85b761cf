"""The authority over real HTTP (uvicorn on loopback, httpx), on SQLite and PostgreSQL."""

from __future__ import annotations

import io

from smartlic.core import bundle, xmlfile
from smartlic.core.artifacts import Ack, BundleManifest, PolicyGrant, TrustCode
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.keys import SigningKey
from smartlic.core.protocol import Kind, Response, Status
from tests.authority.conftest import Server
from tests.authority.helpers import T0, Device, ack_of

PROBLEM = "application/problem+json"


def post(server: Server, path: str, body: bytes, token: str | None = None) -> tuple[int, Response]:
    with server.client(token) as client:
        r = client.post(path, content=body, headers={"Content-Type": "application/json"})
    return r.status_code, Response.parse(r.content)


def test_trust_then_usage_over_licservice(server: Server) -> None:
    world = server.world
    device = Device()
    req = device.request(Kind.TRUST_REQUEST, artifact=device.trust_request(world.id_token()))
    status, response = post(server, "/licservice/license", req.to_bytes())
    assert status == 200, response.error_message
    verifier = world.verifier()
    verifier.update([a for a in response.artifacts if a.type is ArtifactType.KEYSET])
    (code_env,) = [a for a in response.artifacts if a.type is ArtifactType.TRUST_CODE]
    assert TrustCode.from_json(verifier.verify(code_env, ArtifactType.TRUST_CODE, now=T0)).udi == (
        device.udi
    )
    device.trusted = True
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(2),))
    status, response = post(server, "/licservice/license", req.to_bytes())
    assert status == 200
    ack = Ack.from_json(verifier.verify(ack_of(response.artifacts), ArtifactType.ACK, now=T0))
    assert ack.acked[0].status == "ACCEPTED"


def test_utility_with_api_token_and_tenant(server: Server) -> None:
    world = server.world
    token = world.api_token(world.va_id)
    device = Device()
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),))
    status, response = post(server, "/cslu/v1/pi", req.to_bytes(), token)
    assert status == 200, response.error_message
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),))
    status, _ = post(server, f"/cslu/v1/pi/{world.tenant}", req.to_bytes())
    assert status == 200
    status, response = post(server, "/cslu/v1/pi/no-such-tenant", req.to_bytes())
    assert (status, response.error_code) == (404, "NOT_FOUND")
    status, response = post(server, "/cslu/v1/pi", req.to_bytes(), "slk_bogus")
    assert (status, response.error_code) == (403, "INVALID_TOKEN")
    reader = world.api_token(world.va_id, role="read-only")  # read-only changes nothing
    status, response = post(server, "/cslu/v1/pi", req.to_bytes(), reader)
    assert (status, response.error_code) == (403, "INVALID_TOKEN")


def test_oversized_body_is_413(server: Server) -> None:
    status, response = post(server, "/cslu/v1/pi", b" " * (8 * 1024 * 1024 + 1))
    assert status == 413
    assert response.error_code == "OVERSIZED"


def test_malformed_body_is_400(server: Server) -> None:
    status, response = post(server, "/licservice/license", b"\x00not json")
    assert status == 400
    assert response.status is Status.ERROR
    assert response.error_code == "MALFORMED"


def test_replay_over_http_is_409_and_nothing_stored(server: Server) -> None:
    world = server.world
    token = world.api_token(world.va_id)
    device = Device()
    first = device.request(Kind.USAGE_REPORT, reports=(device.rum(1, report_id=T0 + 1),))
    assert post(server, "/cslu/v1/pi", first.to_bytes(), token)[0] == 200
    again = device.request(Kind.USAGE_REPORT, reports=(device.rum(9, report_id=T0 + 1),))
    status, response = post(server, "/cslu/v1/pi", again.to_bytes(), token)
    assert (status, response.error_code) == (409, "REPLAY")
    admin = world.api_token()
    with server.client(admin) as client:
        (inst,) = client.get("/api/v1/instances").json()["items"]
        detail = client.get(f"/api/v1/instances/{inst['id']}").json()
    assert detail["reports"] == 1
    assert detail["usage"] == [{"license_name": "dna-advantage", "count": 1, "as_of": T0}]


def _usage_file(device: Device, reports: list[Envelope], signer: SigningKey) -> bytes:
    member = bundle.Member(f"{device.udi.sn}_{device.udi.pid}.xml", xmlfile.write(reports))
    manifest = BundleManifest(
        "0badc0de0badc0de0badc0de0badc0de",
        T0,
        "test utility",
        (bundle.entry_for(member, device.udi, len(reports)),),
        signer_public_key=signer.public,
    )
    out = io.BytesIO()
    bundle.write(
        out,
        ArtifactType.USAGE_FILE,
        manifest,
        sign(ArtifactType.USAGE_FILE, manifest.to_json(), signer, SigningType.UTILITY),
        [member],
    )
    return out.getvalue()


def test_usage_file_upload_gives_an_ack_file(server: Server) -> None:
    world = server.world
    device = Device()
    data = _usage_file(device, [device.rum(1), device.rum(2)], SigningKey.generate())
    with server.client(world.api_token()) as client:
        r = client.post(
            f"/api/v1/virtual-accounts/{world.va_id}/usage-files",
            content=data,
            headers={"Content-Type": "application/gzip"},
        )
        again = client.post(f"/api/v1/virtual-accounts/{world.va_id}/usage-files", content=data)
    assert r.status_code == 200, r.text
    assert again.status_code == 200
    verifier = world.verifier()

    def check(signed: Envelope, manifest: BundleManifest) -> None:
        verifier.verify(signed, ArtifactType.ACK_FILE, now=T0)
        assert manifest.in_reply_to == "0badc0de0badc0de0badc0de0badc0de"

    (entry, envelopes) = next(
        iter(bundle.read(io.BytesIO(r.content), ArtifactType.ACK_FILE, check))
    )
    ack = Ack.from_json(verifier.verify(ack_of(envelopes), ArtifactType.ACK, now=T0))
    assert entry.udi == device.udi
    assert [a.status for a in ack.acked] == ["UNTRUSTED", "UNTRUSTED"]
    assert ack.policy is not None


def test_tampered_usage_file_is_refused(server: Server) -> None:
    world = server.world
    device = Device()
    data = bytearray(_usage_file(device, [device.rum(1)], SigningKey.generate()))
    data[len(data) // 2] ^= 0xFF
    with server.client(world.api_token()) as client:
        r = client.post(f"/api/v1/virtual-accounts/{world.va_id}/usage-files", content=bytes(data))
    assert r.status_code in (400, 403)
    assert r.headers["content-type"].startswith(PROBLEM)


def test_policy_file_and_custom_policy(server: Server) -> None:
    world = server.world
    with server.client(world.api_token()) as client:
        r = client.post(
            "/api/v1/policies",
            json={"name": "Lab", "va_id": world.va_id, "enforced": {"reporting_frequency": 30}},
        )
        assert r.status_code == 201, r.text
        f = client.get(f"/api/v1/virtual-accounts/{world.va_id}/policy-file")
    (env,) = xmlfile.read(f.content)
    grant = PolicyGrant.from_json(world.verifier().verify(env, ArtifactType.POLICY, now=T0))
    assert grant.policy.name == "Lab"


def test_slac_create_and_return_over_rest(server: Server) -> None:
    world = server.world
    device = Device()
    with server.client(world.api_token()) as client:
        r = client.post(
            f"/api/v1/virtual-accounts/{world.va_id}/authorization-codes",
            json={"udi": str(device.udi), "license_name": "mrp-client", "count": 2},
        )
        assert r.status_code == 201, r.text
        code = r.json()
        over = client.post(
            f"/api/v1/virtual-accounts/{world.va_id}/authorization-codes",
            json={"udi": str(device.udi), "license_name": "mrp-client", "count": 1},
        )
        assert over.status_code == 409
        assert over.json()["code"] == "COUNT_EXCEEDED"
        ret = device.return_code(code["code_id"], code["confirmation_code"])
        back = client.post("/api/v1/authorization-codes/return", content=xmlfile.write([ret]))
        assert back.status_code == 200, back.text
        csv = client.get("/api/v1/compliance", params={"format": "csv"})
    assert csv.text.startswith("virtual_account,license")


def test_healthz_and_keysets(server: Server) -> None:
    with server.client() as client:
        assert client.get("/healthz").json()["status"] == "ok"
        (anchor,) = xmlfile.read(client.get("/api/v1/keysets").content)
    assert anchor.payload == server.world.authority.keys.anchor().payload


def test_unauthenticated_and_bad_token(server: Server) -> None:
    with server.client() as client:
        r = client.get("/api/v1/instances")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    assert {"type", "title", "status", "detail"} <= set(r.json())


def test_instances_are_paginated(server: Server) -> None:
    world = server.world
    for _ in range(3):
        device = Device()
        req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),))
        assert post(server, f"/cslu/v1/pi/{world.tenant}", req.to_bytes())[0] == 200
    with server.client(world.api_token(role="read-only")) as client:
        everything = client.get("/api/v1/instances").json()["items"]
        pages = [
            client.get("/api/v1/instances", params={"limit": 2, "offset": o}).json() for o in (0, 2)
        ]
        assert client.get("/api/v1/instances", params={"limit": 0}).status_code == 422
    assert [len(p["items"]) for p in pages] == [2, 1]
    assert [p["total"] for p in pages] == [3, 3]
    assert [(p["limit"], p["offset"]) for p in pages] == [(2, 0), (2, 2)]
    assert [i["udi"] for p in pages for i in p["items"]] == [i["udi"] for i in everything]
