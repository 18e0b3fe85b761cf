"""The <smartLicense> XML wrapper and the tar.gz bundles: layout, and every refusal by name."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import uuid

import pytest

from smartlic.core import bundle, jsonio, xmlfile
from smartlic.core.artifacts import BundleManifest
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import (
    ArtifactTypeError,
    FormatError,
    OversizedError,
    SignatureMismatchError,
    VerificationError,
)
from smartlic.core.keys import SigningKey

KEY = SigningKey.from_raw(b"\x07" * 32)


def _env(kind: ArtifactType = ArtifactType.RUM, **payload: object) -> Envelope:
    return sign(kind, dict(payload) or {"n": 1}, KEY, SigningType.BUILTIN)


# --- XML wrapper ------------------------------------------------------------------------------


def test_xml_round_trip_keeps_order_and_bytes() -> None:
    envelopes = [_env(n=1), _env(ArtifactType.POLICY, n=2), _env(ArtifactType.ACK, text="a]]>b")]
    data = xmlfile.write(envelopes)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>\n<RUMReport>')
    assert b"<smartLicensePolicy><![CDATA[" in data and b"<smartLicenseRumAck>" in data
    assert xmlfile.read(data) == envelopes


def test_bare_rumreport_root_is_accepted() -> None:
    envelope = _env()
    data = f"<RUMReport>\n<![CDATA[{envelope.to_bytes().decode()}]]>\n</RUMReport>".encode()
    assert xmlfile.read(data) == [envelope]


def test_xml_entity_bomb_is_refused() -> None:
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<smartLicense><RUMReport>&lol3;</RUMReport></smartLicense>"""
    with pytest.raises(FormatError, match="forbidden XML feature"):
        xmlfile.read(bomb)


def test_xml_external_entity_is_refused() -> None:
    xxe = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<smartLicense><RUMReport>&x;</RUMReport></smartLicense>"""
    with pytest.raises(FormatError, match="forbidden XML feature"):
        xmlfile.read(xxe)


def test_element_that_lies_about_its_artifact_is_refused() -> None:
    ack = _env(ArtifactType.ACK)
    data = (
        f"<smartLicense><smartLicensePolicy><![CDATA[{ack.to_bytes().decode()}]]>"
        "</smartLicensePolicy></smartLicense>"
    )
    with pytest.raises(ArtifactTypeError, match="holds an artifact of type ack"):
        xmlfile.read(data.encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"<smartLicense>", "not well-formed"),
        (b"<html></html>", "not an SLP file"),
        (b"<smartLicense></smartLicense>", "holds no artifact"),
        (b"<smartLicense><coupon>x</coupon></smartLicense>", "unknown element"),
        (b"<smartLicense><RUMReport>{not json</RUMReport></smartLicense>", "not valid JSON"),
        (b"<smartLicense>junk<RUMReport>{}</RUMReport></smartLicense>", "stray text"),
    ],
)
def test_malformed_xml_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        xmlfile.read(data)


def test_truncated_xml_is_refused() -> None:
    data = xmlfile.write([_env(), _env(n=2)])
    for cut in (10, len(data) // 2, len(data) - 3):
        with pytest.raises(FormatError):
            xmlfile.read(data[:cut])


def test_oversized_xml_is_refused() -> None:
    with pytest.raises(OversizedError):
        xmlfile.read(xmlfile.write([_env()]), limit=100)


# --- bundles ----------------------------------------------------------------------------------


def _bundle(count: int = 3) -> tuple[bytes, list[bundle.Member], Envelope]:
    members = [bundle.Member(f"dev_{i}.xml", xmlfile.write([_env(n=i)])) for i in range(count)]
    manifest = BundleManifest(
        bundle_id=uuid.UUID(int=1).hex,
        created_at=1_700_000_000,
        created_by="test",
        entries=tuple(bundle.entry_for(m, None, 1) for m in members),
        signer_public_key=KEY.public,
    )
    signed = sign(ArtifactType.USAGE_FILE, manifest.to_json(), KEY, SigningType.UTILITY)
    out = io.BytesIO()
    bundle.write(out, ArtifactType.USAGE_FILE, manifest, signed, members)
    return out.getvalue(), members, signed


def _trust_key(signed: Envelope, manifest: BundleManifest) -> None:
    signed.verify_with(KEY.public)


def _read_all(data: bytes) -> list[tuple[str, list[Envelope]]]:
    return [
        (entry.name, envelopes)
        for entry, envelopes in bundle.read(io.BytesIO(data), ArtifactType.USAGE_FILE, _trust_key)
    ]


def test_bundle_round_trip_and_layout() -> None:
    data, members, _ = _bundle()
    got = _read_all(data)
    assert [name for name, _ in got] == [m.name for m in members]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
    assert names[0] == "manifest.mf" and names[1] == "manifest.xml"
    assert names[2].startswith("UD_VA_") and names[2].endswith(".tar.gz")


def test_bundle_manifest_signature_is_checked() -> None:
    data, _, _ = _bundle()

    def other_key(signed: Envelope, manifest: BundleManifest) -> None:
        signed.verify_with(SigningKey.from_raw(b"\x08" * 32).public)

    with pytest.raises(SignatureMismatchError):
        list(bundle.read(io.BytesIO(data), ArtifactType.USAGE_FILE, other_key))


def _rebuild(outer_members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for info, data in outer_members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _outer(data: bytes) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            out.append((info, handle.read() if handle else None))
    return out


def test_tar_path_escape_is_refused() -> None:
    data, _, _ = _bundle()
    members = _outer(data)
    for evil in ("../../etc/cron.d/x", "/etc/passwd"):
        info = tarfile.TarInfo(evil)
        info.size = 3
        crafted = _rebuild([(info, b"abc"), *members])
        with pytest.raises(FormatError, match="escapes the archive"):
            _read_all(crafted)


def test_tar_links_and_devices_are_refused() -> None:
    link = tarfile.TarInfo("manifest.xml")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    with pytest.raises(FormatError, match="is a link"):
        _read_all(_rebuild([(link, None)]))
    device = tarfile.TarInfo("manifest.xml")
    device.type = tarfile.CHRTYPE
    with pytest.raises(FormatError, match="not a regular file"):
        _read_all(_rebuild([(device, None)]))


def test_truncated_bundle_is_refused() -> None:
    data, _, _ = _bundle()
    for cut in (5, len(data) // 2, len(data) - 10):
        with pytest.raises(FormatError):
            _read_all(data[:cut])


def test_member_altered_after_signing_is_refused() -> None:
    data, members, _ = _bundle()
    outer = _outer(data)
    inner_info, inner_data = outer[2]
    assert inner_data is not None
    tampered = io.BytesIO()
    with tarfile.open(fileobj=tampered, mode="w:gz") as tar:
        for m in members:
            body = (
                m.data.replace(b"RUMReport>", b"RUMReport> ", 1)
                if m.name == "dev_1.xml"
                else m.data
            )
            info = tarfile.TarInfo(m.name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    new_inner = tampered.getvalue()
    inner_info.size = len(new_inner)
    crafted = _rebuild([outer[0], outer[1], (inner_info, new_inner)])
    with pytest.raises(VerificationError, match="does not match its digest"):
        _read_all(crafted)


def test_member_dropped_from_bundle_is_refused() -> None:
    data, members, _ = _bundle()
    outer = _outer(data)
    inner_info, _ = outer[2]
    smaller = io.BytesIO()
    with tarfile.open(fileobj=smaller, mode="w:gz") as tar:
        for m in members[:-1]:
            info = tarfile.TarInfo(m.name)
            info.size = len(m.data)
            tar.addfile(info, io.BytesIO(m.data))
    inner_info.size = len(smaller.getvalue())
    crafted = _rebuild([outer[0], outer[1], (inner_info, smaller.getvalue())])
    with pytest.raises(FormatError, match="missing 1 member"):
        _read_all(crafted)


def test_member_before_manifest_is_refused() -> None:
    data, _, _ = _bundle()
    outer = _outer(data)
    crafted = _rebuild([outer[2], outer[0], outer[1]])
    with pytest.raises(FormatError, match="before the manifest"):
        _read_all(crafted)


def test_gzip_bomb_is_refused() -> None:
    data, _, _ = _bundle()
    with pytest.raises(OversizedError, match="expands past"):
        list(bundle.read(io.BytesIO(data), ArtifactType.USAGE_FILE, _trust_key, total_limit=500))


def test_not_a_tar_is_refused() -> None:
    with pytest.raises(FormatError, match="not a gzip-compressed tar"):
        _read_all(b"hello")
    with pytest.raises(FormatError):
        _read_all(gzip.compress(b"hello world" * 10))


def test_ack_file_is_not_a_usage_file() -> None:
    data, _, _ = _bundle()
    with pytest.raises(ArtifactTypeError):
        list(bundle.read(io.BytesIO(data), ArtifactType.ACK_FILE, _trust_key))


def test_entry_digest_matches_member() -> None:
    member = bundle.Member("x.xml", b"abc")
    assert bundle.entry_for(member, None, 0).sha256 == hashlib.sha256(b"abc").hexdigest()


class _ManifestRead(Exception):
    pass


def test_large_manifest_is_read_within_the_bundle_limit() -> None:
    """A manifest past one artifact's 2 MiB and past the 4 MiB of any other JSON document (about
    28,000 entries: a disconnected utility's fleet of 20,000 with UDIs) still reads from a
    bundle: only the bundle's own limit applies to it."""
    members = [bundle.Member(f"dev_{i:05d}.xml", b"<smartLicense/>") for i in range(40_000)]
    manifest = BundleManifest(
        bundle_id=uuid.UUID(int=2).hex,
        created_at=1_700_000_000,
        created_by="test",
        entries=tuple(bundle.entry_for(m, None, 1) for m in members),
        signer_public_key=KEY.public,
    )
    signed = sign(ArtifactType.USAGE_FILE, manifest.to_json(), KEY, SigningType.UTILITY)
    assert len(signed.payload) > jsonio.MAX_JSON_BYTES
    out = io.BytesIO()
    bundle.write(out, ArtifactType.USAGE_FILE, manifest, signed, members)
    stream = io.BytesIO(out.getvalue())
    seen: list[int] = []

    def check(envelope: Envelope, parsed: BundleManifest) -> None:
        envelope.verify_with(KEY.public)
        seen.append(len(parsed.entries))
        raise _ManifestRead  # the manifest is all this test needs

    with pytest.raises(_ManifestRead):
        list(bundle.read(stream, ArtifactType.USAGE_FILE, check))
    assert seen == [40_000]
