"""Uploads of the air gap: recognise the file, store it with a status, process it, keep the answer.

One entry point for every file a person carries to the authority (CSSM: Reports > Usage Data
Files > Upload Usage Data): a utility's usage file, a product instance's ``save usage`` file, or
its ``save trust-request`` file. Each upload is one row keyed by the SHA-256 of its bytes within
the virtual account: the same file again returns the stored answer, so nothing is counted or
issued twice. Work happens in the request (ADR 0009) across three transactions: the row is
stored as ``received``, marked ``processing``, then the ingestion or issuance commits together
with ``processed`` and its result. A refusal rolls the work back and is then recorded as
``failed`` with its reason, in a transaction of its own, so it stays visible.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from smartlic.authority import audit
from smartlic.authority.context import Authority
from smartlic.authority.db import retrying, transaction
from smartlic.authority.trust.service import TrustService
from smartlic.authority.uploads.models import Upload, UploadKind, UploadStatus
from smartlic.authority.uploads.repository import UploadRepository
from smartlic.authority.usage.service import UsageService
from smartlic.core import xmlfile
from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.errors import ArtifactTypeError, FormatError, SmartLicError, error_from_code

GZIP_MAGIC = b"\x1f\x8b"
STALE_AFTER = 600
"""Seconds after which an upload still ``received``/``processing`` is taken as abandoned (its
worker died): the same file uploaded again is then processed again instead of refused."""
ACCEPTED = (
    "Upload a utility's usage file (.tar.gz), or the file written on the product instance by "
    "`license smart save usage` or `license smart save trust-request`, unchanged."
)
LABEL = {
    ArtifactType.ACK: "ACK",
    ArtifactType.POLICY: "policy",
    ArtifactType.SLAC: "authorization code",
    ArtifactType.TRUST_CODE: "trust code",
    ArtifactType.RETURN_CODE: "return code",
    ArtifactType.KEYSET: "key set",
    ArtifactType.USAGE_FILE: "usage file manifest",
    ArtifactType.ACK_FILE: "ACK file manifest",
}


class UploadInProgressError(SmartLicError):
    """The same file is being processed by another request right now."""

    code = "CONFLICT"
    default_hint = "Wait a moment, then look at the upload's status or upload the file again."


class NoResultError(SmartLicError):
    """The upload has no answer to download (it failed, or is still being processed)."""

    code = "CONFLICT"
    default_hint = "Look at the upload's status and error; fix the file and upload it again."


@dataclass(frozen=True)
class Recognised:
    kind: UploadKind
    envelopes: tuple[Envelope, ...] = ()


def recognise(data: bytes) -> Recognised:
    """What a file is, from its bytes alone; anything else gets a refusal that names it."""
    if data[:2] == GZIP_MAGIC:
        return Recognised(UploadKind.USAGE_BUNDLE)
    if not data.lstrip()[:1] == b"<":
        raise FormatError(
            "the file is neither a usage file (tar.gz or <smartLicense> XML) nor a trust "
            "request file",
            hint=ACCEPTED,
        )
    envelopes = tuple(xmlfile.read(data))
    types = {envelope.type for envelope in envelopes}
    if types == {ArtifactType.RUM}:
        return Recognised(UploadKind.USAGE_XML, envelopes)
    if types == {ArtifactType.TRUST_REQUEST}:
        return Recognised(UploadKind.TRUST_REQUEST, envelopes)
    if types == {ArtifactType.RUM, ArtifactType.TRUST_REQUEST}:
        raise FormatError(
            "the file mixes RUM reports and trust requests; upload each file as it was saved",
            hint=ACCEPTED,
        )
    other = next(
        e.type for e in envelopes if e.type not in (ArtifactType.RUM, ArtifactType.TRUST_REQUEST)
    )
    raise ArtifactTypeError(
        f"a {LABEL.get(other, other.value)} file cannot be uploaded: the authority takes usage "
        "files and trust request files",
        hint=ACCEPTED
        + " A file the authority wrote (ACK, policy, trust code) is imported on the product "
        "instance with `license smart import`.",
    )


DEFAULT_NAME = {
    UploadKind.USAGE_BUNDLE: "usage.tar.gz",
    UploadKind.USAGE_XML: "usage.xml",
    UploadKind.TRUST_REQUEST: "trust_request.xml",
    UploadKind.UNKNOWN: "upload",
}
SUFFIXES = (".tar.gz", ".tgz", ".xml", ".gz", ".txt", ".dat")


def clean_name(name: str | None, kind: UploadKind) -> str:
    """The file's base name, safe to show and to put in a download name."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")[:200]
    return base or DEFAULT_NAME[kind]


def result_name(file_name: str, kind: UploadKind, gzip: bool) -> str:
    """``ACK_<name>`` (as CSSM names ACK files) or ``TrustCode_<name>``, with the right suffix."""
    stem = file_name
    for suffix in SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stem = stem[:150] or "upload"
    if kind is UploadKind.TRUST_REQUEST:
        return f"TrustCode_{stem}.xml"
    return f"ACK_{stem}.tar.gz" if gzip else f"ACK_{stem}.xml"


class UploadService:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority

    def submit(
        self,
        account_id: str,
        va_id: str,
        data: bytes,
        *,
        actor: str,
        file_name: str | None = None,
    ) -> Upload:
        """Store, process and answer one upload; returns its row, ``processed`` or ``failed``.

        The caller has checked that ``va_id`` is one of the caller's virtual accounts.
        Raises ``UploadInProgressError`` when the same file is being processed right now.
        """
        refusal: SmartLicError | None = None
        try:
            found = recognise(data)
        except SmartLicError as exc:
            found, refusal = Recognised(UploadKind.UNKNOWN), exc
        digest = hashlib.sha256(data).hexdigest()
        name = clean_name(file_name, found.kind)

        def claim(s: Session) -> tuple[Upload, bool]:
            repo = UploadRepository(s, account_id)
            now = self.authority.now()
            row = repo.by_digest(va_id, digest, lock=True)
            if row is None:
                row = Upload(
                    account_id=account_id,
                    va_id=va_id,
                    actor=actor,
                    file_name=name,
                    size=len(data),
                    digest=digest,
                    kind=found.kind.value,
                    status=UploadStatus.RECEIVED.value,
                    uploaded_at=now,
                )
                repo.add(row)
                s.flush()
                return row, True
            if row.status == UploadStatus.PROCESSED:
                return row, False
            busy = row.status in (UploadStatus.RECEIVED, UploadStatus.PROCESSING)
            if busy and now - row.uploaded_at < STALE_AFTER:
                raise UploadInProgressError(
                    f"this file is being processed already (upload {row.id}, {row.status})"
                )
            # Failed (or abandoned) before: the same bytes may succeed now (a VA fixed, an
            # instance removed), so they are processed again under the same upload.
            row.status = UploadStatus.RECEIVED.value
            row.actor = actor
            row.uploaded_at = now
            row.error_code = row.error = None
            row.processed_at = None
            return row, True

        row, fresh = retrying(self.authority.sessions, claim)
        if not fresh:
            return row
        if refusal is not None:
            return self._fail(account_id, row.id, refusal)
        self._mark(account_id, row.id, UploadStatus.PROCESSING)
        try:
            return retrying(
                self.authority.sessions,
                lambda s: self._process(s, account_id, va_id, row.id, found, data, actor),
            )
        except SmartLicError as exc:
            return self._fail(account_id, row.id, exc)
        except Exception:
            # A fault, not a refusal: listed as failed, and the error goes up. (An interrupt
            # leaves the row ``processing``; the same file is taken again once it is stale.)
            self._fail(
                account_id,
                row.id,
                SmartLicError("internal error while processing the file; nothing was imported"),
            )
            raise

    def _process(
        self,
        s: Session,
        account_id: str,
        va_id: str,
        upload_id: str,
        found: Recognised,
        data: bytes,
        actor: str,
    ) -> Upload:
        """The work and its ``processed`` row in one transaction: both or neither."""
        if found.kind is UploadKind.TRUST_REQUEST:
            result = TrustService(self.authority).issue_file(
                s, account_id, va_id, list(found.envelopes), actor=actor, upload=upload_id
            )
            gzip = False
        else:
            result, form = UsageService(self.authority).upload(
                s, account_id, va_id, data, actor=actor
            )
            gzip = form == "gzip"
        row = UploadRepository(s, account_id).get(upload_id, lock=True)
        now = self.authority.now()
        row.status = UploadStatus.PROCESSED.value
        row.processed_at = now
        row.result = result
        row.result_name = result_name(row.file_name, found.kind, gzip)
        row.result_type = "application/gzip" if gzip else "application/xml"
        audit.record(
            s,
            at=now,
            account_id=account_id,
            actor=actor,
            action="upload.process",
            subject=row.file_name,
            detail=f"upload={upload_id} kind={row.kind} bytes={row.size}",
        )
        return row

    def _mark(self, account_id: str, upload_id: str, status: UploadStatus) -> None:
        with transaction(self.authority.sessions) as s:
            UploadRepository(s, account_id).get(upload_id, lock=True).status = status.value

    def _fail(self, account_id: str, upload_id: str, exc: SmartLicError) -> Upload:
        with transaction(self.authority.sessions) as s:
            row = UploadRepository(s, account_id).get(upload_id, lock=True)
            now = self.authority.now()
            row.status = UploadStatus.FAILED.value
            row.processed_at = now
            row.error_code = exc.code
            row.error = exc.reason
            row.result = None
            row.result_name = row.result_type = None
            audit.record(
                s,
                at=now,
                account_id=account_id,
                actor=row.actor,
                action="upload.process",
                subject=row.file_name,
                outcome="refused",
                detail=f"upload={upload_id} kind={row.kind} {exc.code}: {exc.reason}",
            )
            return row


def refusal_of(row: Upload) -> SmartLicError:
    """The error a failed upload was refused with, rebuilt from its stored code and reason."""
    return error_from_code(row.error_code or "ERROR", row.error or "the upload failed")


def result_of(row: Upload) -> tuple[bytes, str, str]:
    """``(bytes, download name, media type)`` of a processed upload."""
    if row.status != UploadStatus.PROCESSED or row.result is None:
        detail = f": {row.error}" if row.error else ""
        raise NoResultError(f"upload {row.id} is {row.status}, it has no file to download{detail}")
    return row.result, row.result_name or "result", row.result_type or "application/octet-stream"
