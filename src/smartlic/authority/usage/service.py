"""Usage ingestion: verify RUM reports, store each once, answer with one signed ACK per UDI.

The rules are docs/protocol.md's "Usage report": ``builtin`` reports verify under the key they
carry and are stored untrusted; ``trust`` reports must verify under the key of the trust code on
record; a report is stored once per (virtual account, UDI, report id) with the SHA-256 of its
payload; the same report again is acknowledged again, a different one under a stored id refuses
the whole request (``REPLAY``) and nothing is stored. The caller runs one call in one transaction.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.authorization.models import IssuedCode
from smartlic.authority.authorization.repository import CodeRepository
from smartlic.authority.authorization.service import AuthorizationService
from smartlic.authority.context import Authority
from smartlic.authority.db import new_ids
from smartlic.authority.policy.service import InForce, PolicyService
from smartlic.authority.usage.placement import Placements
from smartlic.authority.usage.repository import UsageRepository
from smartlic.core import bundle, jsonio, xmlfile
from smartlic.core.artifacts import (
    Account,
    Ack,
    AckedReport,
    BundleManifest,
    RumReport,
    payload_digest,
)
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import (
    FormatError,
    NotFoundError,
    ReplayError,
    SignatureMismatchError,
    VerificationError,
    WrongUdiError,
)
from smartlic.core.keys import VerifyKey
from smartlic.core.protocol import InstanceState
from smartlic.core.udi import HaSet, Udi


@dataclass(frozen=True)
class Verified:
    envelope: Envelope
    report: RumReport
    digest: str
    trusted: bool


@dataclass
class FileMemo:
    """What every ACK of one usage file shares, looked up once for the file rather than once
    per instance (100,000 in a large file), inside the one transaction of its upload: the
    policy in force per virtual account, and the active authorization codes of its UDIs."""

    in_force: dict[tuple[str, str], InForce] = field(default_factory=dict)
    codes: dict[str, list[IssuedCode]] = field(default_factory=dict)
    """UDI → its codes not returned, for every UDI of the file."""

    @classmethod
    def for_udis(cls, session: Session, account_id: str, udis: list[Udi]) -> FileMemo:
        repo = CodeRepository(session, account_id)
        return cls(codes=repo.active_for_udis([str(u) for u in udis]))

    def policy_in_force(
        self, policies: PolicyService, session: Session, account_id: str, va_id: str
    ) -> InForce:
        known = self.in_force.get((account_id, va_id))
        if known is None:
            known = self.in_force[(account_id, va_id)] = policies.in_force(
                session, account_id, va_id
            )
        return known


def _span(report: RumReport) -> tuple[int, int, int]:
    """(count, start, end) of a report: the count of its latest measurement and the time its
    measurements cover. In one pass, as most reports hold a single measurement."""
    spans = report.measurements
    if len(spans) == 1:
        only = spans[0]
        return only.count, only.start_time, only.end_time
    if not spans:
        return 0, 0, 0
    latest = max(spans, key=lambda m: (m.end_time, m.log_time))
    return latest.count, report.start_time, report.end_time


class UsageService:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.policies = PolicyService(authority)
        self.codes = AuthorizationService(authority)

    # --- verification ---------------------------------------------------------------------

    def verify_reports(
        self,
        envelopes: tuple[Envelope, ...] | list[Envelope],
        trusted_keys: dict[str, VerifyKey],
        udi_allowed: Callable[[RumReport], bool],
    ) -> list[Verified]:
        """Check every report of a request, or raise what is wrong with the first bad one.

        In three passes, so that the signature checks of a batch run together on every core
        (``ParallelVerifier``): find each report's key (a ``builtin`` report carries its own,
        so its payload is read first; a ``trust`` report is read only after its signature
        verifies under the trust code's key), check all signatures, then read and match.
        """
        keyed: list[tuple[Envelope, VerifyKey]] = []
        builtin: list[RumReport | None] = []
        for envelope in envelopes:
            envelope.expect(ArtifactType.RUM)
            signing_type = envelope.signature.signing_type
            if signing_type is SigningType.TRUST:
                key = trusted_keys.get(envelope.signature.key)
                if key is None:
                    raise SignatureMismatchError(
                        "a trusted report is not signed by the key of the trust code on record"
                    )
                keyed.append((envelope, key))
                builtin.append(None)
            elif signing_type is SigningType.BUILTIN:
                report = RumReport.from_envelope(envelope)
                if report.signing_type is not SigningType.BUILTIN:
                    raise SignatureMismatchError("the report's signature block does not match")
                keyed.append((envelope, report.public_key))
                builtin.append(report)
            else:
                raise SignatureMismatchError(
                    f"a RUM report must be signed builtin or trust, not {signing_type.value}"
                )
        self.authority.verifier.check(keyed)
        out: list[Verified] = []
        for (envelope, key), read in zip(keyed, builtin, strict=True):
            report = read if read is not None else RumReport.from_envelope(envelope)
            if read is None and (
                report.signing_type is not SigningType.TRUST or report.public_key != key
            ):
                raise SignatureMismatchError("the report's signature block does not match")
            if not udi_allowed(report):
                raise WrongUdiError(
                    f"report {report.report_id} is from {report.udi}, not this sender"
                )
            out.append(Verified(envelope, report, payload_digest(envelope), read is None))
        return out

    # --- ingestion ------------------------------------------------------------------------

    def ingest(
        self,
        session: Session,
        account_id: str,
        va_id: str,
        sender: Udi,
        reports: tuple[Envelope, ...] | list[Envelope],
        state: InstanceState,
        *,
        ha: HaSet | None = None,
        hostname: str | None = None,
        actor: str = "instance",
        memo: FileMemo | None = None,
    ) -> Envelope:
        """Verify and store ``reports`` of ``sender``; return the signed ACK (stored too)."""
        now = self.authority.now()
        # Reads and signature checks first, writes after: on SQLite the write lock (one writer
        # for all workers) is then held only for the inserts, not for the verification.
        members = ha.udis if ha is not None else (sender,)
        where = Placements(session, account_id, va_id, [str(u) for u in (sender, *members)])
        known = where.here(str(sender))
        trusted_keys: dict[str, VerifyKey] = {}
        for udi in members:
            row = known if udi == sender else where.in_account(str(udi))
            key = row.trust_key() if row is not None else None
            if key is not None:
                trusted_keys[key.key_id] = key

        def udi_allowed(report: RumReport) -> bool:
            if ha is not None:
                return ha.contains(report.udi)
            return report.udi == sender or report.ha.contains(sender)

        verified = self.verify_reports(reports, trusted_keys, udi_allowed)
        sender_id = where.place(str(sender), now, hostname)
        touched = [sender_id] if known is not None else []
        if known is not None and hostname and known.hostname != hostname:
            where.rename(sender_id, hostname)
        repo = UsageRepository(session, account_id)
        acked: list[AckedReport] = []
        by_udi: dict[Udi, list[Verified]] = {}
        for item in verified:
            by_udi.setdefault(item.report.udi, []).append(item)
        rows: list[tuple[object, ...]] = []
        ids = iter(new_ids(len(verified)))
        for udi, items in by_udi.items():
            text = str(udi)
            if udi == sender:
                owner = sender_id
            else:
                was_known = where.here(text) is not None
                owner = where.place(text, now)
                if was_known:
                    touched.append(owner)
            before = repo.seen(va_id, text, [i.report.report_id for i in items])
            earlier: dict[int, str] = {}
            for item in items:
                rid = item.report.report_id
                old = before.get(rid)
                digest_before = old[0] if old is not None else earlier.get(rid)
                if digest_before is not None and digest_before != item.digest:
                    raise ReplayError(
                        f"report id {rid} of {udi} is already stored with other content",
                        hint="A report id identifies one report forever; this looks like a "
                        "replayed or altered report. Nothing from this request was stored.",
                    )
                if rid in earlier:
                    continue  # the same report twice in one request: stored and ACKed once
                earlier[rid] = item.digest
                trusted = old[1] if old is not None else item.trusted
                acked.append(AckedReport(rid, item.digest, "ACCEPTED" if trusted else "UNTRUSTED"))
                if old is None:
                    report = item.report
                    rows.append(  # in REPORT_COLUMNS order
                        (
                            next(ids),
                            account_id,
                            va_id,
                            owner,
                            text,
                            rid,
                            item.digest,
                            item.trusted,
                            report.license_name,
                            report.entitlement_tag,
                            *_span(report),
                            now,
                            item.envelope.to_bytes().decode(),
                        )
                    )
        where.touch(touched, now)
        repo.insert_reports(rows)
        if rows:
            repo.audit_ingest(now, actor, str(sender), f"stored={len(rows)} acked={len(acked)}")
        return self._ack(
            session, account_id, va_id, sender, acked, state, now, fresh=bool(rows), memo=memo
        )

    def _ack(
        self,
        session: Session,
        account_id: str,
        va_id: str,
        udi: Udi,
        acked: list[AckedReport],
        state: InstanceState,
        now: int,
        *,
        fresh: bool = False,
        memo: FileMemo | None = None,
    ) -> Envelope:
        """The ACK for ``acked``: the stored one for the very same key, else a new one.

        ``fresh``: some report was stored just now, so no ACK for this set can exist yet.
        """
        keyset_version = self.authority.keyset().version
        # Typed documents of values checked on the way in: no float walk over thousands of ids.
        key_material = jsonio.dumps_typed(
            {
                "udi": str(udi),
                "acked": [a.to_json() for a in acked],
                "state": state.to_json(),
                "keyset": keyset_version,
            }
        )
        ack_key = hashlib.sha256(key_material).hexdigest()
        repo = UsageRepository(session, account_id)
        existing = None if fresh else repo.stored_ack(va_id, str(udi), ack_key)
        if existing is not None:
            return Envelope.parse(existing)
        names = self.authority.names.get((account_id, va_id))
        if names is None:
            names = AccountRepository(session, account_id).names(va_id)
            if len(self.authority.names) < 100_000:
                self.authority.names[(account_id, va_id)] = names
        account = Account(*names)
        if memo is None:
            in_force = self.policies.in_force(session, account_id, va_id)
            active = None
        else:
            in_force = memo.policy_in_force(self.policies, session, account_id, va_id)
            active = memo.codes.get(str(udi), [])
        slacs = self.codes.pending(session, account_id, udi, state.slac_code_ids, active)
        send_policy = state.policy_issued_at is None or state.policy_issued_at < in_force.issued_at
        chain = self.authority.chain()
        ack = Ack(
            ack_id=ack_key[:32],
            udi=udi,
            account=account,
            issued_at=now,
            acked=tuple(acked),
            policy=self.policies.sign(in_force, account, udi) if send_policy else None,
            slacs=tuple(slacs),
            keysets=tuple(chain[state.keyset_version :]),
        )
        envelope = sign(
            ArtifactType.ACK,
            jsonio.dumps_typed(ack.to_json()),
            self.authority.signer(),
            SigningType.AUTHORITY,
        )
        repo.insert_ack(va_id, str(udi), ack_key, now, envelope.to_bytes().decode())
        return envelope

    # --- files ----------------------------------------------------------------------------

    def upload(
        self, session: Session, account_id: str, va_id: str, data: bytes, *, actor: str = "cli"
    ) -> tuple[bytes, str]:
        """A usage file in, an ACK file out, in the same form: ``(ack file, "gzip"|"xml")``.

        A tar.gz usage bundle (a utility's) gets an ACK bundle; a product instance's own
        ``license smart save usage`` file (``<smartLicense>`` XML of RUM reports, from one or
        more UDIs) gets a ``<smartLicense>`` ACK file: the key-set chain, then one ACK per UDI.
        """
        head = data.lstrip()[:1]
        if data[:2] == b"\x1f\x8b":
            return self.upload_file(session, account_id, va_id, data, actor=actor), "gzip"
        if head == b"<":
            return self.upload_device_file(session, account_id, va_id, data, actor=actor), "xml"
        raise FormatError(
            "a usage file is a tar.gz usage bundle or a <smartLicense> XML file of RUM reports",
            hint="Upload the file written by `license smart save usage` or a utility's usage "
            "file, unchanged.",
        )

    def upload_device_file(
        self, session: Session, account_id: str, va_id: str, data: bytes, *, actor: str = "cli"
    ) -> bytes:
        """A ``save usage`` file in, a ``<smartLicense>`` ACK file out; all or nothing."""
        groups: dict[Udi, list[Envelope]] = {}
        for envelope in xmlfile.read(data):
            envelope.expect(ArtifactType.RUM)
            report = RumReport.from_envelope(envelope)
            groups.setdefault(report.udi, []).append(envelope)
        memo = FileMemo.for_udis(session, account_id, list(groups))
        acks = [
            self.ingest(
                session, account_id, va_id, udi, envelopes, InstanceState(), actor=actor, memo=memo
            )
            for udi, envelopes in groups.items()
        ]
        # Key sets first (ADR 0006), so an instance can verify ACKs signed after a rotation.
        return xmlfile.write([*self.authority.chain(), *acks])

    def upload_file(
        self, session: Session, account_id: str, va_id: str, data: bytes, *, actor: str = "cli"
    ) -> bytes:
        """A usage file (tar.gz bundle) in, an ACK file out; all or nothing."""

        bundle_ids: list[str] = []

        def check_manifest(signed: Envelope, manifest: BundleManifest) -> None:
            bundle_ids.append(manifest.bundle_id)
            if manifest.signer_public_key is None:
                raise VerificationError("the usage file manifest names no signer key")
            if signed.signature.signing_type not in (
                SigningType.UTILITY,
                SigningType.BUILTIN,
                SigningType.TRUST,
            ):
                raise SignatureMismatchError("the usage file manifest has a wrong signing type")
            signed.verify_with(manifest.signer_public_key)

        # Each entry names the virtual account its instance belongs in (null: the upload's),
        # always one of the uploading smart account: a name found in no VA of this account
        # (another account's, or a typo) refuses the whole file before anything is stored.
        accounts = AccountRepository(session, account_id)
        va_ids: dict[str | None, str] = {None: va_id}
        groups: dict[Udi, tuple[str, list[Envelope]]] = {}
        for entry, envelopes in bundle.read(
            io.BytesIO(data), ArtifactType.USAGE_FILE, check_manifest
        ):
            if entry.udi is None:
                raise FormatError(f"usage file member {entry.name} names no product instance")
            if entry.va not in va_ids:
                try:
                    va_ids[entry.va] = accounts.va_by_name(str(entry.va)).id
                except NotFoundError:
                    raise NotFoundError(
                        f"usage file member {entry.name} is for virtual account {entry.va!r}, "
                        "which is not in this smart account; nothing was imported",
                        hint="Upload the file to the smart account that holds that virtual "
                        "account, or create it there.",
                    ) from None
            target = va_ids[entry.va]
            previous = groups.get(entry.udi)
            if previous is not None and previous[0] != target:
                raise FormatError(
                    f"usage file names {entry.udi} in two virtual accounts; nothing was imported"
                )
            # A hello entry (no reports) still gets an ACK: the policy in force, its codes.
            groups.setdefault(entry.udi, (target, []))[1].extend(envelopes)
        va_names = {v: k for k, v in va_ids.items() if k is not None}
        members: list[bundle.Member] = []
        entries = []
        memo = FileMemo.for_udis(session, account_id, list(groups))
        for udi, (target, envelopes) in groups.items():
            ack = self.ingest(
                session, account_id, target, udi, envelopes, InstanceState(), actor=actor, memo=memo
            )
            # The key-set chain rides ahead of the ACK so an instance can follow any rotation.
            member = bundle.Member(
                f"ACK_{udi.sn}_{udi.pid}.xml", xmlfile.write([*self.authority.chain(), ack])
            )
            members.append(member)
            if target not in va_names:
                va_names[target] = accounts.va(target).name
            entries.append(bundle.entry_for(member, udi, 1, va=va_names[target]))
        now = self.authority.now()
        manifest = BundleManifest(
            bundle_id=uuid.uuid4().hex,
            created_at=now,
            created_by=self.authority.name,
            entries=tuple(entries),
            account=Account(accounts.account().name, accounts.va(va_id).name),
            in_reply_to=bundle_ids[0] if bundle_ids else None,
        )
        signed = sign(
            ArtifactType.ACK_FILE,
            manifest.to_json(),
            self.authority.signer(),
            SigningType.AUTHORITY,
        )
        out = io.BytesIO()
        bundle.write(out, ArtifactType.ACK_FILE, manifest, signed, members)
        return out.getvalue()
