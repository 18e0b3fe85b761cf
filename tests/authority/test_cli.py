"""The admin commands, end to end on a real SQLite file (the default database)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from typer.testing import CliRunner

from smartlic.authority.cli import app
from smartlic.core import bundle, xmlfile
from smartlic.core.artifacts import Ack, AuthorizationCode, BundleManifest, PolicyGrant
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import Verifier
from smartlic.core.policy import Origin
from tests.authority.helpers import Device, ack_of

runner = CliRunner()


def run(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data", str(data)])
    assert result.exit_code == code, result.output
    return result.output


def run_json(data: Path, *args: str) -> object:
    return json.loads(run(data, *args, "--json"))


def test_admin_workflow(tmp_path: Path) -> None:
    data = tmp_path / "auth"
    out = run_json(data, "init")
    assert out["keyset_version"] == 1  # type: ignore[index]
    run(data, "account", "create", "SA-X")
    run(data, "va", "create", "--account", "SA-X", "Lab")
    run(
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
        "1",
        "--end",
        "2099-12-31",
    )
    token = run_json(
        data,
        "token",
        "create",
        "--account",
        "SA-X",
        "--va",
        "Lab",
        "--expires-days",
        "10",
        "--max-uses",
        "2",
    )
    assert len(token["token"]) > 40  # type: ignore[index]
    run(data, "token", "revoke", "--account", "SA-X", token["id"])  # type: ignore[index]
    run(
        data,
        "policy",
        "create",
        "--account",
        "SA-X",
        "--va",
        "Lab",
        "--name",
        "P1",
        "--enforced",
        "-,30,-",
        "--no-ack-required",
    )
    run(data, "keys", "show", "--anchor", str(tmp_path / "anchor.xml"))
    (anchor,) = xmlfile.read((tmp_path / "anchor.xml").read_bytes())
    verifier = Verifier.from_anchor(anchor)
    run(data, "policy", "file", "--account", "SA-X", "--va", "Lab", str(tmp_path / "p.xml"))
    (policy_env,) = xmlfile.read((tmp_path / "p.xml").read_bytes())
    import time

    now = int(time.time())
    grant = PolicyGrant.from_json(verifier.verify(policy_env, ArtifactType.POLICY, now=now))
    assert grant.policy.name == "P1"
    assert grant.policy.ack_required.origin is Origin.CUSTOMER

    device = Device()
    run(
        data,
        "slac",
        "create",
        "--account",
        "SA-X",
        "--va",
        "Lab",
        "--udi",
        str(device.udi),
        "--license",
        "mrp-client",
        str(tmp_path / "slac.xml"),
    )
    (slac_env,) = xmlfile.read((tmp_path / "slac.xml").read_bytes())
    code = AuthorizationCode.from_json(verifier.verify(slac_env, ArtifactType.SLAC, now=now))
    out_text = run(
        data,
        "slac",
        "create",
        "--account",
        "SA-X",
        "--va",
        "Lab",
        "--udi",
        str(device.udi),
        "--license",
        "mrp-client",
        str(tmp_path / "s2.xml"),
        code=1,
    )
    assert "available" in out_text
    (tmp_path / "ret.xml").write_bytes(
        xmlfile.write([device.return_code(code.code_id, code.confirmation_code)])
    )
    run(data, "slac", "return", "--account", "SA-X", str(tmp_path / "ret.xml"))

    usage = _usage_file(device, [device.rum(3)])
    (tmp_path / "usage.tar.gz").write_bytes(usage)
    run(
        data,
        "usage",
        "upload",
        "--account",
        "SA-X",
        "--va",
        "Lab",
        str(tmp_path / "usage.tar.gz"),
        "--ack",
        str(tmp_path / "ack.tar.gz"),
    )
    entries = list(
        bundle.read(
            io.BytesIO((tmp_path / "ack.tar.gz").read_bytes()),
            ArtifactType.ACK_FILE,
            lambda s, m: verifier.verify(s, ArtifactType.ACK_FILE, now=now),
        )
    )
    ack = Ack.from_json(verifier.verify(ack_of(entries[0][1]), ArtifactType.ACK, now=now))
    assert ack.acked[0].status == "UNTRUSTED"

    instances = run_json(data, "instance", "list", "--account", "SA-X")
    assert [i["udi"] for i in instances] == [str(device.udi)]  # type: ignore[union-attr]
    shown = run_json(data, "instance", "show", "--account", "SA-X", str(device.udi))
    assert shown["usage"][0]["count"] == 3  # type: ignore[index]
    csv = run(data, "compliance", "--account", "SA-X", "--csv")
    assert "dna-advantage,3,0,0,3" in csv  # shortfall: 3 in use, none purchased
    run(data, "instance", "remove", "--account", "SA-X", str(device.udi))
    rotated = run_json(data, "keys", "rotate")
    assert rotated["version"] == 2  # type: ignore[index]
    assert run(data, "apitoken", "create", "--account", "SA-X").startswith("slk_")


def test_errors_print_diagnostics_and_exit_1(tmp_path: Path) -> None:
    data = tmp_path / "auth"
    out = run(data, "account", "create", "A", code=1)
    assert "init" in out
    run(data, "init")
    out = run(data, "va", "create", "--account", "nobody", "V", code=1)
    assert "no smart account" in out
    assert "What to do" in out


def _usage_file(device: Device, reports: list[Envelope]) -> bytes:
    signer = SigningKey.generate()
    member = bundle.Member(f"{device.udi.sn}_{device.udi.pid}.xml", xmlfile.write(reports))
    manifest = BundleManifest(
        "ab" * 16,
        1,
        "test",
        (bundle.entry_for(member, device.udi, 1),),
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


def test_commands_run_in_process_leave_no_database_connection(tmp_path: Path, pg_url: str) -> None:
    """Each command disposes the engine it opened (a script or a test calling commands in one
    process would otherwise hold a PostgreSQL connection per command until it exits)."""
    import uuid

    from smartlic.authority.db import make_engine

    name = f"smartlic-cli-{uuid.uuid4().hex[:8]}"
    url = f"{pg_url}&application_name={name}"
    data = tmp_path / "auth"
    for args in (
        ["init"],
        ["account", "create", "SA-X"],
        ["va", "create", "--account", "SA-X", "Lab"],
        ["instance", "list", "--account", "SA-X"],
        ["va", "create", "--account", "SA-Nope", "Lab"],  # refused: exit 1
    ):
        runner.invoke(app, [*args, "--data", str(data), "--db", url])
    probe = make_engine(pg_url)
    try:
        with probe.connect() as conn:
            left = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).scalar()
    finally:
        probe.dispose()
    assert left == 0
