"""Files: a device's own `save usage` file in → a `<smartLicense>` ACK file out (the "no
connectivity to CSSM and no CSLU" topology), authorization-code files by id, policy files for a
UDI; over the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smartlic.authority.cli import app
from smartlic.authority.db import transaction
from smartlic.authority.usage.service import UsageService
from smartlic.core import xmlfile
from smartlic.core.artifacts import Ack, AuthorizationCode, PolicyGrant
from smartlic.core.envelope import ArtifactType
from smartlic.core.protocol import Kind
from smartlic.instance import Agent, Identity, ManualClock
from tests.authority.conftest import Server
from tests.authority.helpers import T0, Device, World

runner = CliRunner()


def test_device_file_round_trip_with_a_real_instance(world: World, tmp_path: Path) -> None:
    """`license smart save usage` → upload → ACK file → `license smart import`: acknowledged."""
    world.authority.keys.rotate(T0)  # the ACK file must carry the key-set chain ahead of it
    clock = ManualClock(T0)
    agent = Agent.open(
        tmp_path / "pi",
        Identity(Device().udi, "switch-1"),
        clock=clock,
        anchor=world.authority.keys.anchor(),
    )
    try:
        agent.use("dna-advantage", 3)
        clock.advance(3600)
        assert agent.save_usage(tmp_path / "usage.xml") >= 1
        raw = (tmp_path / "usage.xml").read_bytes()
        with transaction(world.authority.sessions) as s:
            ack_file, form = UsageService(world.authority).upload(
                s, world.account_id, world.va_id, raw
            )
        assert form == "xml"
        envelopes = xmlfile.read(ack_file)
        assert [e.type for e in envelopes] == [
            ArtifactType.KEYSET,
            ArtifactType.KEYSET,
            ArtifactType.ACK,
        ]
        (tmp_path / "ack.xml").write_bytes(ack_file)
        result = agent.import_file(tmp_path / "ack.xml")
        assert "ACK" in result.installed
        assert agent.usage_summary().acknowledged >= 1
        assert not agent.unacked_reports()
    finally:
        agent.close()


def _save_usage(devices: list[Device]) -> bytes:
    return xmlfile.write([d.rum(i + 1) for i, d in enumerate(devices) for _ in range(2)])


def test_device_file_of_several_udis_over_http(server: Server) -> None:
    world = server.world
    devices = [Device(), Device()]
    data = _save_usage(devices)
    url = f"/api/v1/virtual-accounts/{world.va_id}/usage-files"
    with server.client(world.api_token()) as client:
        r = client.post(url, content=data, headers={"Content-Type": "application/xml"})
        again = client.post(url, content=data, headers={"Content-Type": "application/xml"})
        listed = client.get("/api/v1/instances").json()
        junk = client.post(url, content=b"hello")
        wrong = client.post(url, content=xmlfile.write([world.authority.keys.anchor()]))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert again.status_code == 200
    envelopes = xmlfile.read(r.content)
    assert envelopes[0].type is ArtifactType.KEYSET
    verifier = world.verifier()
    acks = [
        Ack.from_json(verifier.verify(e, ArtifactType.ACK, now=T0))
        for e in envelopes
        if e.type is ArtifactType.ACK
    ]
    assert sorted(str(a.udi) for a in acks) == sorted(str(d.udi) for d in devices)
    assert all(len(a.acked) == 2 and a.acked[0].status == "UNTRUSTED" for a in acks)
    assert listed["total"] == 2
    assert junk.status_code == 400
    assert wrong.status_code == 400 and wrong.json()["code"] == "WRONG_ARTIFACT_TYPE"


def test_authorization_code_file_and_instance_policy_file(server: Server) -> None:
    world = server.world
    device = Device()
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),))
    with server.client(world.api_token()) as client:
        assert client.post(f"/cslu/v1/pi/{world.tenant}", content=req.to_bytes()).status_code == 200
        issued = client.post(
            f"/api/v1/virtual-accounts/{world.va_id}/authorization-codes",
            json={"udi": str(device.udi), "license_name": "mrp-client"},
        ).json()
        codes = client.get("/api/v1/authorization-codes", params={"va_id": world.va_id}).json()
        f = client.get(f"/api/v1/authorization-codes/{issued['code_id']}/file")
        missing = client.get("/api/v1/authorization-codes/nope/file")
        (inst,) = client.get("/api/v1/instances").json()["items"]
        p = client.get(f"/api/v1/instances/{inst['id']}/policy-file")
    assert codes["total"] == 1 and codes["items"][0]["code_id"] == issued["code_id"]
    assert f.status_code == 200 and f.headers["content-type"].startswith("application/xml")
    assert f.text == issued["file"]
    (env,) = xmlfile.read(f.content)
    code = AuthorizationCode.from_json(world.verifier().verify(env, ArtifactType.SLAC, now=T0))
    assert code.udi == device.udi
    assert missing.status_code == 404
    (pol,) = xmlfile.read(p.content)
    grant = PolicyGrant.from_json(world.verifier().verify(pol, ArtifactType.POLICY, now=T0))
    assert grant.udi == device.udi


def _cli(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data", str(data)])
    assert result.exit_code == code, result.output
    return result.output


def test_cli_device_file_slac_file_policy_for_udi_users_transfer(tmp_path: Path) -> None:
    data = tmp_path / "auth"
    _cli(data, "init")
    _cli(data, "account", "create", "SA-X")
    _cli(data, "va", "create", "--account", "SA-X", "Lab")
    _cli(data, "va", "create", "--account", "SA-X", "Spare")
    _cli(
        data,
        "purchase",
        "add",
        "--account",
        "SA-X",
        "--va",
        "Lab",
        "--license",
        "mrp-client",
        "--count",
        "3",
    )
    device = Device()
    (tmp_path / "usage.xml").write_bytes(_save_usage([device]))
    out = json.loads(
        _cli(
            data, "usage", "upload", "--account", "SA-X", "--va", "Lab",
            str(tmp_path / "usage.xml"), "--ack", str(tmp_path / "ack.xml"), "--json",
        )
    )  # fmt: skip
    assert out["form"] == "xml"
    types = [e.type for e in xmlfile.read((tmp_path / "ack.xml").read_bytes())]
    assert types == [ArtifactType.KEYSET, ArtifactType.ACK]

    # a policy file for a UDI: the virtual account is the instance's
    _cli(
        data,
        "policy",
        "file",
        "--account",
        "SA-X",
        "--udi",
        str(device.udi),
        str(tmp_path / "p.xml"),
    )
    (pol,) = xmlfile.read((tmp_path / "p.xml").read_bytes())
    assert json.loads(pol.payload)["sudi"]["udi_serial_number"] == device.udi.sn
    _cli(data, "policy", "file", "--account", "SA-X", str(tmp_path / "p.xml"), code=1)

    issued = json.loads(
        _cli(
            data, "slac", "create", "--account", "SA-X", "--va", "Lab", "--udi", str(device.udi),
            "--license", "mrp-client", str(tmp_path / "s.xml"), "--json",
        )
    )  # fmt: skip
    listed = json.loads(_cli(data, "slac", "list", "--account", "SA-X", "--json"))
    assert [c["code_id"] for c in listed] == [issued["code_id"]]
    _cli(data, "slac", "file", "--account", "SA-X", issued["code_id"], str(tmp_path / "again.xml"))
    assert (tmp_path / "again.xml").read_bytes() == (tmp_path / "s.xml").read_bytes()
    _cli(data, "slac", "file", "--account", "SA-X", "nope", str(tmp_path / "x.xml"), code=1)

    moved = json.loads(
        _cli(
            data, "purchase", "transfer", "--account", "SA-X", "--from", "Lab", "--to", "Spare",
            "--license", "mrp-client", "--count", "2", "--json",
        )
    )  # fmt: skip
    assert moved["count"] == 2
    refused = _cli(
        data, "purchase", "transfer", "--account", "SA-X", "--from", "Lab", "--to", "Spare",
        "--license", "mrp-client", "--count", "1", code=1,
    )  # fmt: skip
    assert "transferable" in refused  # 1 left, 1 issued

    _cli(
        data, "user", "create", "--account", "SA-X", "--username", "ops", "--password",
        "ops-pass-1", "--role", "va-user", "--va", "Lab", "--va", "Spare",
    )  # fmt: skip
    _cli(
        data, "user", "create", "--account", "SA-X", "--username", "boss", "--password",
        "boss-pass-1", "--role", "admin",
    )  # fmt: skip
    users = json.loads(_cli(data, "user", "list", "--account", "SA-X", "--json"))
    assert {u["username"]: u["vas"] for u in users} == {"boss": [], "ops": ["Lab", "Spare"]}
    _cli(
        data, "user", "create", "--account", "SA-X", "--username", "x", "--password",
        "short", "--role", "admin", code=1,
    )  # fmt: skip


def _usage_bundle(entries: list[tuple[Device, str | None, list[Any]]]) -> bytes:
    """A utility's usage file: one member per (device, virtual account, reports); no reports
    makes a hello entry (``items: 0``)."""
    import io
    import uuid

    from smartlic.core import bundle
    from smartlic.core.artifacts import BundleManifest
    from smartlic.core.envelope import SigningType, sign
    from smartlic.core.keys import SigningKey

    key = SigningKey.generate()
    members, lines = [], []
    for index, (device, va, reports) in enumerate(entries):
        member = bundle.Member(f"UD_{device.udi.sn}_{index}.xml", xmlfile.write(reports))
        members.append(member)
        lines.append(bundle.entry_for(member, device.udi, len(reports), va))
    manifest = BundleManifest(
        bundle_id=uuid.uuid4().hex,
        created_at=T0,
        created_by="test utility",
        entries=tuple(lines),
        signer_public_key=key.public,
    )
    signed = sign(ArtifactType.USAGE_FILE, manifest.to_json(), key, SigningType.UTILITY)
    out = io.BytesIO()
    bundle.write(out, ArtifactType.USAGE_FILE, manifest, signed, members)
    return out.getvalue()


def test_usage_file_places_each_entry_in_its_virtual_account(world: World) -> None:
    """One Download All For Cisco file, instances of two VAs of the account and an instance with
    no report (a hello entry): each is placed in its own VA and gets its ACK with the policy."""
    import io

    from sqlalchemy import select

    from smartlic.authority.trust.models import ProductInstance
    from smartlic.core import bundle

    one, two, quiet = Device(), Device(), Device()
    data = _usage_bundle(
        [(one, None, [one.rum(), one.rum()]), (two, "VA-Two", [two.rum()]), (quiet, "VA-Two", [])]
    )
    with transaction(world.authority.sessions) as s:
        ack_file, form = UsageService(world.authority).upload(
            s, world.account_id, world.va_id, data
        )
    assert form == "gzip"
    got = {}
    for entry, envelopes in bundle.read(
        io.BytesIO(ack_file), ArtifactType.ACK_FILE, lambda *_: None
    ):
        (ack_env,) = [e for e in envelopes if e.type is ArtifactType.ACK]
        ack = Ack.from_json(ack_env.payload_json())
        got[ack.udi] = (
            entry.va,
            len(ack.acked),
            ack.policy is not None,
            ack.account.virtual_account,
        )
    assert got == {
        one.udi: ("VA-One", 2, True, "VA-One"),
        two.udi: ("VA-Two", 1, True, "VA-Two"),
        quiet.udi: ("VA-Two", 0, True, "VA-Two"),
    }
    with transaction(world.authority.sessions) as s:
        placed = {
            p.udi: p.va_id
            for p in s.scalars(
                select(ProductInstance).where(ProductInstance.account_id == world.account_id)
            )
        }
    assert placed[str(one.udi)] == world.va_id
    assert placed[str(two.udi)] == placed[str(quiet.udi)] == world.other_va_id


def test_usage_file_naming_another_accounts_va_imports_nothing(world: World) -> None:
    from smartlic.core.errors import FormatError, NotFoundError

    one, foreign = Device(), Device()
    for bad in (
        [(one, None, [one.rum()]), (foreign, "VA-Else", [foreign.rum()])],  # SA-Other's VA
        [(one, None, [one.rum()]), (one, "VA-Two", [])],  # one instance in two VAs
    ):
        with (
            pytest.raises((NotFoundError, FormatError), match="nothing was imported"),
            transaction(world.authority.sessions) as s,
        ):
            UsageService(world.authority).upload(
                s, world.account_id, world.va_id, _usage_bundle(bad)
            )
    from sqlalchemy import func, select

    from smartlic.authority.usage.models import UsageReport

    with transaction(world.authority.sessions) as s:
        assert s.scalar(select(func.count()).select_from(UsageReport)) == 0


def test_a_usage_file_acks_carry_each_udis_codes_and_the_policy_in_force(world: World) -> None:
    """The policy in force and the codes not returned are looked up once for a whole file
    (``FileMemo``); each UDI's ACK still carries exactly its own codes and the VA's policy."""
    from smartlic.authority.authorization.service import AuthorizationService
    from smartlic.authority.policy.service import PolicyService
    from smartlic.core.policy import ClassOverrides, PolicyClass

    coded, plain = Device(), Device()
    with transaction(world.authority.sessions) as s:
        issued = AuthorizationService(world.authority).issue(
            s, world.account_id, world.va_id, coded.udi, "mrp-client"
        )
        PolicyService(world.authority).create(
            s, world.account_id, "file-policy", va_id=world.va_id,
            rules={PolicyClass.UNENFORCED_PERPETUAL: ClassOverrides(reporting_frequency=30)},
        )  # fmt: skip
    code_id = AuthorizationCode.from_json(issued.payload_json()).code_id
    with transaction(world.authority.sessions) as s:
        ack_file, _ = UsageService(world.authority).upload(
            s, world.account_id, world.va_id, _save_usage([coded, plain])
        )
    acks = {
        ack.udi: ack
        for ack in (
            Ack.from_json(e.payload_json())
            for e in xmlfile.read(ack_file)
            if e.type is ArtifactType.ACK
        )
    }
    codes = {
        udi: [AuthorizationCode.from_json(c.payload_json()).code_id for c in ack.slacs]
        for udi, ack in acks.items()
    }
    assert codes == {coded.udi: [code_id], plain.udi: []}
    for ack in acks.values():
        assert ack.policy is not None
        assert PolicyGrant.from_json(ack.policy.payload_json()).policy.name == "file-policy"
