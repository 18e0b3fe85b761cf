"""The air gap: ``save usage`` files and ``import`` of ACK, policy, authorization code and trust
code files (the ``<smartLicense>`` XML of ``core.xmlfile``)."""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path

from smartlic.core import bundle, xmlfile
from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.errors import (
    ArtifactTypeError,
    ConfigurationError,
    FormatError,
    NotFoundError,
    SignatureMismatchError,
    WrongUdiError,
)
from smartlic.core.timefmt import DAY
from smartlic.instance.records import ImportResult
from smartlic.instance.reporting import ReportingMixin
from smartlic.instance.store import atomic_write

IMPORTABLE = (
    ArtifactType.ACK,
    ArtifactType.POLICY,
    ArtifactType.SLAC,
    ArtifactType.TRUST_CODE,
    ArtifactType.KEYSET,
)
DEFAULT_DAYS = 90
GZIP_MAGIC = b"\x1f\x8b"


class FilesMixin(ReportingMixin):
    def select_reports(
        self, which: str = "all", *, days: int | None = None, rum_id: int | None = None
    ) -> list[tuple[int, Envelope]]:
        """Closed, stored reports: ``all``, ``unreported``, ``days`` (ended in the last N days)
        or ``rum-id`` (one report)."""
        if which == "all":
            return self._envelopes("state != 'OPEN'")
        if which == "unacknowledged":
            return self._envelopes("state = 'CLOSED'")
        if which == "unreported":
            return self._envelopes("state = 'CLOSED' AND reported_at IS NULL")
        if which == "days":
            n = DEFAULT_DAYS if days is None else days
            if n < 0:
                raise ConfigurationError("days must be >= 0")
            since = self.clock.now() - n * DAY
            return self._envelopes("state != 'OPEN' AND end_time >= ?", (since,))
        if which == "rum-id":
            if rum_id is None:
                raise ConfigurationError("rum-id needs a report id")
            found = self._envelopes("report_id = ?", (rum_id,))
            if not found:
                raise NotFoundError(f"no stored closed report with id {rum_id}")
            return found
        raise ConfigurationError(f"unknown selection {which!r} (all, unreported, days, rum-id)")

    def mark_collected(self, report_ids: list[int]) -> None:
        """Reports handed to a collector (REST pull) count as reported: Waiting for Ack."""
        self._mark_reported(report_ids)

    def save_usage(
        self,
        path: str | Path,
        which: str = "all",
        *,
        days: int | None = None,
        rum_id: int | None = None,
    ) -> int:
        """``license smart save usage all|unreported|days N|rum-id ID file <path>``.

        Open reports are closed first (report time). The reports written count as reported
        (Waiting for Ack) until an ACK file is imported. Returns how many were written; with
        none to write (``rum-id`` aside), no file is written and 0 is returned.
        """
        if which != "rum-id":
            self.close_reports()
        selected = self.select_reports(which, days=days, rum_id=rum_id)
        if not selected:
            return 0
        atomic_write(Path(path), xmlfile.write([e for _, e in selected]))
        self._mark_reported([report_id for report_id, _ in selected])
        self.store.put("last_report_file_write", self.clock.now())
        self._event("SAEVT_RUM_REPORT_SAVE", count=len(selected), file=str(path))
        return len(selected)

    def import_bytes(self, data: bytes, *, expect: ArtifactType | None = None) -> ImportResult:
        """Install every artifact of a ``<smartLicense>`` file (raw XML or its base64), or of
        this instance's members of an ACK file (the authority's tar.gz answer to a usage file)."""
        result = ImportResult()
        raw = data if data[:2] == GZIP_MAGIC else _unwrap(data)
        if raw[:2] == GZIP_MAGIC:
            envelopes = self._read_ack_bundle(raw, result)
        else:
            envelopes = xmlfile.read(raw)
        for envelope in envelopes:
            if envelope.type not in IMPORTABLE:
                raise ArtifactTypeError(
                    f"a {envelope.type.value} file cannot be imported on a product instance "
                    "(import accepts ACK, policy, authorization code and trust code files)"
                )
            if expect is not None:
                envelope.expect(expect)
        for label in self.install_artifacts(envelopes):
            result.installed.append(label)
        result.details.append(result.summary())
        self._event("SAEVT_IMPORT", installed=",".join(result.installed) or "nothing")
        return result

    def _read_ack_bundle(self, data: bytes, result: ImportResult) -> list[Envelope]:
        """The envelopes of this instance's members (any UDI of its HA set) of an ACK file.

        The bundle reader checks every member against the signed manifest; the manifest must be
        signed by the authority (a key valid at the instance clock). Key sets in our members are
        installed first when the manifest needs them (they verify on their own, by the root
        chain). Nothing else is installed here.
        """
        signed: list[Envelope] = []
        mine: list[Envelope] = []
        others = 0
        for entry, envelopes in bundle.read(
            io.BytesIO(data), ArtifactType.ACK_FILE, lambda env, _: signed.append(env)
        ):
            if entry.udi is not None and self.identity.ha_set.contains(entry.udi):
                mine.extend(envelopes)
            else:
                others += 1
        verifier = self.require_verifier()
        now = self.clock.now()
        try:
            verifier.verify(signed[0], ArtifactType.ACK_FILE, now=now)
        except SignatureMismatchError:
            keysets = [e for e in mine if e.type is ArtifactType.KEYSET]
            if not keysets:
                raise
            if self.install_keyset(keysets):
                result.installed.append("key set")
            verifier.verify(signed[0], ArtifactType.ACK_FILE, now=now)
        if not mine:
            raise WrongUdiError(
                f"the ACK file holds {others} member(s), none for this product instance "
                f"({self.udi})"
            )
        return mine

    def import_file(self, path: str | Path, *, expect: ArtifactType | None = None) -> ImportResult:
        """``license smart import <file>``: says which artifacts it installed."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise NotFoundError(f"cannot read {path}: {exc.strerror}") from None
        return self.import_bytes(data, expect=expect)


def _unwrap(data: bytes) -> bytes:
    """Accept the XML itself, a JSON string holding it, or base64 of it (REST import)."""
    text = data.strip()
    if text.startswith(b'"') and text.endswith(b'"'):
        import json

        try:
            inner = json.loads(text)
        except ValueError:
            raise FormatError("body is neither XML nor a JSON string") from None
        text = str(inner).encode().strip()
    if text.startswith(b"<"):
        return text
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError("body is neither SLP XML nor base64 of it") from None
    if decoded[:2] == GZIP_MAGIC:
        return decoded  # an ACK file (tar.gz), base64-encoded for REST
    if not decoded.strip().startswith(b"<"):
        raise FormatError("base64 body does not hold SLP XML")
    return decoded
