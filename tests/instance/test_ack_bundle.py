"""ACK files as the authority answers a usage file: a tar.gz bundle with a signed manifest and
one member per product instance (``core.bundle``). The instance imports its own member; a
foreign, tampered or unsigned bundle changes nothing."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from smartlic.core import bundle, xmlfile
from smartlic.core.artifacts import BundleManifest
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import FormatError, SignatureMismatchError, WrongUdiError
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import KeyEntry, KeySet, sign_keyset
from smartlic.core.udi import Udi
from smartlic.instance import Agent, ManualClock
from tests.instance.mini_authority import OTHER_UDI, T0, UDI, YEAR, MiniAuthority


def _bundle(
    authority: MiniAuthority,
    members: dict[Udi, list[Envelope]],
    *,
    key: SigningKey | None = None,
) -> bytes:
    files = [
        (udi, bundle.Member(f"ACK_{udi.sn}_{udi.pid}.xml", xmlfile.write(envelopes)))
        for udi, envelopes in members.items()
    ]
    manifest = BundleManifest(
        bundle_id=uuid.uuid4().hex,
        created_at=authority.now,
        created_by="mini authority",
        entries=tuple(bundle.entry_for(member, udi, 1) for udi, member in files),
    )
    signed = sign(
        ArtifactType.ACK_FILE, manifest.to_json(), key or authority.signing, SigningType.AUTHORITY
    )
    out = io.BytesIO()
    bundle.write(out, ArtifactType.ACK_FILE, manifest, signed, [m for _, m in files])
    return out.getvalue()


@pytest.fixture
def reported(agent: Agent, clock: ManualClock) -> Agent:
    agent.use("network-advantage")
    clock.advance(3600)
    agent.close_reports()
    return agent


def _ack(agent: Agent, authority: MiniAuthority, udi: Udi = UDI) -> Envelope:
    return authority.make_ack(udi, [e for _, e in agent.unacked_reports()])


def test_import_my_member_of_an_ack_file(
    reported: Agent, authority: MiniAuthority, tmp_path: Path
) -> None:
    other = authority.make_ack(OTHER_UDI, [])
    path = tmp_path / "ack.tar.gz"
    path.write_bytes(_bundle(authority, {OTHER_UDI: [other], UDI: [_ack(reported, authority)]}))
    result = reported.import_file(path)
    assert result.installed == ["ACK"]
    assert reported.usage_summary().acknowledged == 1


def test_ack_file_without_my_member(
    reported: Agent, authority: MiniAuthority, tmp_path: Path
) -> None:
    path = tmp_path / "ack.tar.gz"
    path.write_bytes(_bundle(authority, {OTHER_UDI: [authority.make_ack(OTHER_UDI, [])]}))
    with pytest.raises(WrongUdiError, match="none for this product instance"):
        reported.import_file(path)
    assert reported.usage_summary().acknowledged == 0


def test_ack_file_signed_by_an_unknown_key(
    reported: Agent, authority: MiniAuthority, tmp_path: Path
) -> None:
    path = tmp_path / "ack.tar.gz"
    data = _bundle(authority, {UDI: [_ack(reported, authority)]}, key=SigningKey.generate())
    path.write_bytes(data)
    with pytest.raises(SignatureMismatchError):
        reported.import_file(path)
    assert reported.usage_summary().acknowledged == 0


def test_truncated_ack_file(reported: Agent, authority: MiniAuthority, tmp_path: Path) -> None:
    data = _bundle(authority, {UDI: [_ack(reported, authority)]})
    path = tmp_path / "ack.tar.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError):
        reported.import_file(path)
    assert reported.usage_summary().acknowledged == 0


def test_ack_file_after_a_key_rotation_carries_the_new_key_set(
    reported: Agent, authority: MiniAuthority, tmp_path: Path
) -> None:
    """The manifest is signed with a key the instance learns from the key set in its member."""
    new_signing = SigningKey.generate()
    keyset2 = sign_keyset(
        KeySet(2, T0, authority.root.public, (KeyEntry(new_signing.public, T0, T0 + YEAR),)),
        authority.root,
    )
    authority.signing = new_signing
    path = tmp_path / "ack.tar.gz"
    path.write_bytes(_bundle(authority, {UDI: [keyset2, _ack(reported, authority)]}))
    result = reported.import_file(path)
    assert result.installed == ["key set", "ACK"]
    assert reported.verifier is not None and reported.verifier.version == 2


def test_base64_ack_file_as_the_rest_api_receives_it(
    reported: Agent, authority: MiniAuthority
) -> None:
    import base64

    data = _bundle(authority, {UDI: [_ack(reported, authority)]})
    assert reported.import_bytes(base64.b64encode(data)).installed == ["ACK"]
