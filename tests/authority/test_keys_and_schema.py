"""Key store (0600 files, rotation under the previous root), migrations, OpenAPI document."""

from __future__ import annotations

import stat
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from smartlic.authority.context import Authority
from smartlic.authority.endpoint import ProtocolService
from smartlic.authority.keystore import KeyStore
from smartlic.authority.migrate import current_revision, head_revision
from smartlic.authority.models import Base
from smartlic.authority.openapi import document
from smartlic.core.artifacts import Ack
from smartlic.core.envelope import ArtifactType
from smartlic.core.keyset import Verifier
from smartlic.core.protocol import InstanceState, Kind
from tests.authority.helpers import DAY, T0, Device, World, ack_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "authority-openapi.json"


def test_key_files_are_private(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    assert keys.init(T0)
    assert not keys.init(T0)  # never overwrites
    for path in (keys.root_path, keys.signing_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list((tmp_path / "keys").glob(".*"))  # no temp files left behind


def test_rotation_is_signed_by_the_previous_root(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    keys.init(T0)
    old_signer = keys.signing_key()
    keys.rotate(T0 + 10 * DAY)
    keys.rotate(T0 + 20 * DAY)
    verifier = Verifier.from_anchor(keys.anchor())
    assert verifier.update(keys.chain()) == 2
    assert verifier.version == 3
    ids = [e.key.key_id for e in verifier.trusted.keys]
    assert old_signer.key_id in ids  # overlap: the old key still verifies for a while
    assert keys.signing_key().key_id == ids[-1]


def test_ack_after_rotation_carries_the_new_keysets(authority: Authority, world: World) -> None:
    device = Device()
    authority.keys.rotate(T0)
    req = device.request(
        Kind.USAGE_REPORT, reports=(device.rum(),), state=InstanceState(keyset_version=1)
    )
    response = ProtocolService(authority).handle(req.to_bytes(), tenant=world.tenant)
    ack_env = ack_of(response.artifacts)
    verifier = world.verifier()
    unverified = Ack.from_json(ack_env.payload_json())
    assert [k.type for k in unverified.keysets] == [ArtifactType.KEYSET]
    verifier.update(unverified.keysets)
    Ack.from_json(verifier.verify(ack_env, ArtifactType.ACK, now=T0))


def test_migrations_match_the_models(authority: Authority) -> None:
    assert current_revision(authority.engine) == head_revision(authority.engine)
    with authority.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_openapi_document_is_current() -> None:
    assert DOCS.read_text() == document(), (
        "docs/authority-openapi.json is stale: run "
        "`python -m smartlic.authority.openapi > docs/authority-openapi.json`"
    )
