"""Usage files and ACK files: the tar.gz layout of CSSM's manual upload, with a signed manifest.

Layout (outer ``.tar.gz``, members in this order)::

    manifest.mf              the text manifest of the real upload (Manifest-Version, Created-By,
                             Smart-Account, Name, Specification-VA): informational
    manifest.xml             <smartLicense> holding the signed BundleManifest envelope
    UD_VA_<id>.tar.gz        (or ACK_UD_VA_<id>.tar.gz) inner archive, one XML file per product
                             instance, each named in the manifest with its SHA-256

The manifest comes first so a reader can verify it before it looks at any member, then stream
the members one at a time, checking each against its digest. Reading refuses absolute paths,
``..``, links, devices, unexpected members, duplicates, and anything past the size limits
(including gzip bombs: the limit is on uncompressed bytes). Core does no I/O: callers pass file
objects.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from smartlic.core import jsonio, xmlfile
from smartlic.core.artifacts import BundleEntry, BundleManifest
from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.errors import FormatError, OversizedError, VerificationError
from smartlic.core.udi import Udi

MANIFEST_MF = "manifest.mf"
MANIFEST_XML = "manifest.xml"
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_MANIFEST_BYTES = jsonio.MAX_MANIFEST_BYTES
MAX_TOTAL_BYTES = 8 * 1024 * 1024 * 1024
MAX_MEMBERS = 1_000_000
MAX_TRAILING_BYTES = 1 << 20


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes


def inner_name(kind: ArtifactType, bundle_id: str) -> str:
    prefix = "UD_VA_" if kind is ArtifactType.USAGE_FILE else "ACK_UD_VA_"
    return f"{prefix}{bundle_id}.tar.gz"


def _mf_text(manifest: BundleManifest, inner: str) -> bytes:
    lines = [
        "Manifest-Version: 1.0",
        f"Created-By: {manifest.created_by}",
        f"Smart-Account: {manifest.account.smart_account if manifest.account else ''}",
        "",
        f"Name: /{inner}",
        f"Specification-VA: {manifest.account.virtual_account if manifest.account else ''}",
        "",
    ]
    return "\n".join(lines).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def entry_for(member: Member, udi: Udi | None, items: int, va: str | None = None) -> BundleEntry:
    """The manifest line for a rendered member."""
    return BundleEntry(
        name=member.name,
        sha256=hashlib.sha256(member.data).hexdigest(),
        udi=udi,
        items=items,
        va=va,
    )


def write(
    out: IO[bytes],
    kind: ArtifactType,
    manifest: BundleManifest,
    signed_manifest: Envelope,
    members: Iterator[Member] | list[Member],
) -> None:
    """Write a bundle. ``signed_manifest`` must be the signature over ``manifest``."""
    if signed_manifest.type is not kind:
        raise FormatError(f"manifest is a {signed_manifest.type.value}, expected {kind.value}")
    expected = {e.name: e.sha256 for e in manifest.entries}
    inner_buffer = io.BytesIO()
    with _gz_tar(inner_buffer, manifest.created_at) as inner:
        for member in members:
            digest = hashlib.sha256(member.data).hexdigest()
            if expected.pop(member.name, None) != digest:
                raise FormatError(f"member {member.name} does not match the manifest")
            _add(inner, member.name, member.data, manifest.created_at)
    if expected:
        raise FormatError(f"manifest names members that were not written: {sorted(expected)[:3]}")
    inner_file = inner_name(kind, manifest.bundle_id)
    with _gz_tar(out, manifest.created_at) as outer:
        _add(outer, MANIFEST_MF, _mf_text(manifest, inner_file), manifest.created_at)
        _add(outer, MANIFEST_XML, xmlfile.write([signed_manifest]), manifest.created_at)
        _add(outer, inner_file, inner_buffer.getvalue(), manifest.created_at)


@contextlib.contextmanager
def _gz_tar(out: IO[bytes], mtime: int) -> Iterator[tarfile.TarFile]:
    """A tar.gz writer whose bytes depend only on its content: the gzip header's time is fixed."""
    with (
        gzip.GzipFile(fileobj=out, mode="wb", mtime=mtime, filename="") as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        yield tar


def _check_member(info: tarfile.TarInfo, limit: int) -> None:
    name = info.name
    if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
        raise FormatError(f"archive member {name!r} escapes the archive (absolute path or '..')")
    if info.issym() or info.islnk():
        raise FormatError(f"archive member {name!r} is a link; links are refused")
    if not info.isfile():
        raise FormatError(f"archive member {name!r} is not a regular file")
    if info.size > limit:
        raise OversizedError(f"archive member {name!r} is {info.size} bytes (limit {limit})")


class _Budget:
    """Counts uncompressed bytes read across the whole bundle: defeats gzip bombs."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def read(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
        self.left -= info.size
        if self.left < 0:
            raise OversizedError("bundle expands past its size limit")
        handle = tar.extractfile(info)
        if handle is None:
            raise FormatError(f"archive member {info.name!r} has no data")
        data = handle.read()
        if len(data) != info.size:
            raise FormatError(f"archive member {info.name!r} is truncated")
        return data


def _drain(gz: gzip.GzipFile) -> None:
    """Read to the end so gzip checks its CRC and length: a cut-off trailer is truncation.

    Only tar padding may follow the archive; more than a little means hidden (or bomb) data.
    """
    trailing = 0
    while chunk := gz.read(1 << 16):
        trailing += len(chunk)
        if trailing > MAX_TRAILING_BYTES:
            raise OversizedError("archive has data after its end")


ManifestCheck = Callable[[Envelope, BundleManifest], None]


def read(
    stream: IO[bytes],
    kind: ArtifactType,
    verify_manifest: ManifestCheck,
    *,
    total_limit: int = MAX_TOTAL_BYTES,
) -> Iterator[tuple[BundleEntry, list[Envelope]]]:
    """Yield each member's manifest entry and envelopes, after the manifest is verified.

    ``verify_manifest`` checks the manifest's signature (the caller knows whose key to trust)
    and raises to stop. A member that is missing, extra, duplicated or altered raises
    ``FormatError``/``VerificationError``; because entries are yielded one by one, a caller that
    must be all-or-nothing collects first and commits after the generator finishes.
    """
    budget = _Budget(total_limit)
    gz = gzip.GzipFile(fileobj=stream, mode="rb")
    try:
        outer = tarfile.open(fileobj=gz, mode="r|")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FormatError(f"not a gzip-compressed tar archive: {exc}") from None
    manifest: BundleManifest | None = None
    seen_inner = False
    try:
        for info in outer:
            _check_member(info, MAX_MANIFEST_BYTES)
            if info.name == MANIFEST_MF:
                budget.read(outer, info)
                continue
            if info.name == MANIFEST_XML:
                if manifest is not None:
                    raise FormatError("archive holds two manifests")
                envelopes = xmlfile.read(budget.read(outer, info), limit=MAX_MANIFEST_BYTES)
                if len(envelopes) != 1:
                    raise FormatError("manifest.xml must hold exactly one manifest")
                signed = envelopes[0].expect(kind)
                # The manifest grows with the fleet: only the bundle's limit applies to it,
                # not the 4 MiB of an ordinary JSON document.
                manifest = BundleManifest.from_json(
                    jsonio.loads(signed.payload, what="manifest payload", limit=MAX_MANIFEST_BYTES)
                )
                verify_manifest(signed, manifest)
                continue
            if manifest is None:
                raise FormatError(f"archive member {info.name!r} comes before the manifest")
            if info.name != inner_name(kind, manifest.bundle_id) or seen_inner:
                raise FormatError(f"unexpected archive member {info.name!r}")
            seen_inner = True
            inner_bytes = budget.read(outer, info)
            yield from _read_inner(inner_bytes, manifest, budget)
        _drain(gz)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise FormatError(f"archive is corrupt or truncated: {exc}") from None
    finally:
        outer.close()
    if manifest is None:
        raise FormatError("archive has no manifest.xml")
    if not seen_inner:
        raise FormatError("archive has no data member (truncated?)")


def _read_inner(
    data: bytes, manifest: BundleManifest, budget: _Budget
) -> Iterator[tuple[BundleEntry, list[Envelope]]]:
    expected = {entry.name: entry for entry in manifest.entries}
    if len(expected) > MAX_MEMBERS:
        raise OversizedError(f"bundle lists more than {MAX_MEMBERS} members")
    gz = gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb")
    try:
        inner = tarfile.open(fileobj=gz, mode="r|")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FormatError(f"inner archive is not a gzip-compressed tar: {exc}") from None
    with inner:
        for info in inner:
            _check_member(info, MAX_MEMBER_BYTES)
            entry = expected.pop(info.name, None)
            if entry is None:
                raise FormatError(f"member {info.name!r} is not in the manifest (or duplicated)")
            body = budget.read(inner, info)
            if hashlib.sha256(body).hexdigest() != entry.sha256:
                raise VerificationError(
                    f"member {info.name!r} does not match its digest in the signed manifest"
                )
            # items == 0: a member with no artifact (a usage file's hello entry), and only then.
            yield entry, xmlfile.read(body, allow_empty=entry.items == 0)
        _drain(gz)
    if expected:
        missing = ", ".join(sorted(expected)[:3])
        raise FormatError(
            f"bundle is missing {len(expected)} member(s) named in the manifest: {missing}"
        )
