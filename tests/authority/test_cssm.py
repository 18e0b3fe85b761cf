"""The CSSM-compatible surface over real HTTP: OAuth2, search, reportusage, authrequest, poll."""

from __future__ import annotations

import base64
import json

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.db import transaction
from smartlic.core import xmlfile
from smartlic.core.artifacts import Ack, AuthorizationCode
from smartlic.core.catalog import default_catalog
from smartlic.core.envelope import ArtifactType
from tests.authority.conftest import Server
from tests.authority.helpers import T0, Device

BASE = "/services/api/smart-accounts-and-licensing"


def _token(server: Server) -> tuple[str, str]:
    world = server.world
    with transaction(world.authority.sessions) as s:
        new = AccountService(world.authority).create_api_token(s, world.account_id, role="admin")
    return new.row_id, new.token


def test_cssm_workflow(server: Server) -> None:
    world = server.world
    client_id, secret = _token(server)
    with server.client() as anon:
        r = anon.post(
            "/as/token.oauth2",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        assert r.status_code == 200, r.text
        bad = anon.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": secret},
        )
        assert bad.status_code == 401
    access = r.json()["access_token"]
    headers = {"X-CSW-SMART-ACCOUNT-ID": world.account_id, "X-CSW-VIRTUAL-ACCOUNT-ID": "VA-One"}
    device = Device()
    report = json.loads(device.rum(4).to_bytes())
    with server.client(access) as client:
        found = client.post(f"{BASE}/v2/accounts/search").json()
        assert found["status"] == "COMPLETE"
        assert {v["name"] for v in found["accounts"][0]["virtual_accounts"]} == {"VA-One", "VA-Two"}
        body = {
            "data": {
                "timestamp": T0,
                "nonce": "n1",
                "reports": [
                    {
                        "sudi": device.udi.to_sudi(),
                        "usage": [{"payload": report["payload"], "signature": report["signature"]}],
                    }
                ],
            }
        }
        submitted = client.post(f"{BASE}/v2/devices/reportusage", json=body, headers=headers)
        assert submitted.json()["status"] == "OK_POLL"
        poll = client.post(
            f"{BASE}/v2/accounts/poll",
            json={"data": {"poll_id": submitted.json()["poll_id"]}},
        ).json()
        assert poll["status"] == "COMPLETE", poll
        (ack_env,) = xmlfile.read(base64.b64decode(poll["smart_license"]))
        ack = Ack.from_json(world.verifier().verify(ack_env, ArtifactType.ACK, now=T0))
        assert ack.acked[0].status == "UNTRUSTED"

        tag = default_catalog().get("mrp-client").entitlement_tag
        auth = {
            "data": {
                "timestamp": T0,
                "nonce": "n2",
                "licenses": [
                    {
                        "sudi": device.udi.to_sudi(),
                        "hostname": "sw1",
                        "keys": [{"entitlement": tag, "count": 5}],
                    }
                ],
            }
        }
        submitted = client.post(f"{BASE}/v2/devices/authrequest", json=auth, headers=headers)
        failed = client.post(
            "/v2/accounts/poll", json={"data": {"poll_id": submitted.json()["poll_id"]}}
        ).json()
        assert failed["status"] == "FAILED"
        assert failed["message_code"] == "COUNT_EXCEEDED"
        auth["data"]["licenses"][0]["keys"][0]["count"] = 1  # type: ignore[index]
        submitted = client.post("/v2/devices/authrequest", json=auth, headers=headers)
        done = client.post(
            "/v2/accounts/poll", json={"data": {"poll_id": submitted.json()["poll_id"]}}
        ).json()
        (slac_env,) = xmlfile.read(base64.b64decode(done["smart_license"]))
        code = AuthorizationCode.from_json(
            world.verifier().verify(slac_env, ArtifactType.SLAC, now=T0)
        )
        ret = xmlfile.write([device.return_code(code.code_id, code.confirmation_code)])
        giveback = {
            "data": {
                "licenses": [
                    {
                        "sudi": device.udi.to_sudi(),
                        "keys": [],
                        "remove_code": base64.b64encode(ret).decode(),
                    }
                ]
            }
        }
        submitted = client.post("/v2/devices/authrequest", json=giveback, headers=headers)
        returned = client.post(
            "/v2/accounts/poll", json={"data": {"poll_id": submitted.json()["poll_id"]}}
        ).json()
        assert returned["status"] == "COMPLETE", returned
        other = client.post(
            "/v2/devices/reportusage",
            json=body,
            headers={"X-CSW-VIRTUAL-ACCOUNT-ID": world.other_account_va_id},
        )
        assert other.status_code == 404
