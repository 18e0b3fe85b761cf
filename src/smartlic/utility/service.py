"""The utility (CSLU role) as a library: push messages in, collection out, files both ways.

Rules (docs/protocol.md, "Conversation rules"), as the utility keeps them:

- Every RUM report is verified (against the key its payload carries) and stored durably before
  anything is answered or forwarded; it stays until a *verified* ACK lists it with its digest.
- Connected: the instance's request is forwarded unchanged with the API token and the answer is
  relayed after its ACK is stored. Losing the authority turns the answer into ``OK_POLL``; the
  stored request is re-sent on the ``result_poll`` (the authority is idempotent).
- Disconnected: usage gets ``OK_POLL``; "Download All For Cisco" writes every report not yet
  acknowledged into one usage file; "Upload From Cisco" imports the authority's ACK file (all or
  nothing) and the ACKs and policies are delivered on the next contact (push) or by ``import``
  (pull).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from smartlic.core import bundle, xmlfile
from smartlic.core.artifacts import (
    Account,
    Ack,
    AuthorizationCode,
    BundleManifest,
    PolicyGrant,
    RumReport,
    payload_digest,
)
from smartlic.core.envelope import (
    ArtifactType,
    Envelope,
    SigningType,
    sign,
)
from smartlic.core.errors import (
    CommunicationError,
    ConfigurationError,
    FormatError,
    NotFoundError,
    OversizedError,
    ReplayError,
    SignatureMismatchError,
    SmartLicError,
    VerificationError,
    WrongUdiError,
)
from smartlic.core.keyset import KeySet, Verifier
from smartlic.core.protocol import (
    MAX_REPORTS_PER_MESSAGE,
    InstanceState,
    Kind,
    Request,
    Response,
    Status,
)
from smartlic.core.udi import HaSet, Udi
from smartlic.utility.store import Store, atomic_write, fault
from smartlic.utility.upstream import Upstream
from smartlic.utility.vault import Vault

log = logging.getLogger("smartlic.utility")
UNKNOWN_MESSAGE = "unknown"
CREATED_BY = "smartlic utility"
POLL_RETRY_CONNECTED = 60
POLL_RETRY_DISCONNECTED = 3600
STATUS_BATCH = 64  # devices whose collection status is written in one transaction
Progress = Callable[[str, int, int], None]
"""Told ``(what, done, total)`` as long work advances (the CLI draws it as a progress bar)."""


class UnavailableError(SmartLicError):
    """The utility cannot do this now (disconnected, or the authority is unreachable)."""

    code = "UNAVAILABLE"


def _guess_message_id(body: bytes) -> str:
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return UNKNOWN_MESSAGE
    value = obj.get("message_id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 64 else UNKNOWN_MESSAGE


@dataclass(frozen=True)
class StoredReport:
    udi: Udi
    report_id: int
    digest: str
    envelope: Envelope
    ha: HaSet


def verify_report(envelope: Envelope, allowed: HaSet | None = None) -> StoredReport:
    """Check a RUM report's signature against the key its payload carries (proof of integrity;
    the authority checks trusted reports against the trust code)."""
    envelope.expect(ArtifactType.RUM)
    if envelope.signature.signing_type not in (SigningType.BUILTIN, SigningType.TRUST):
        raise SignatureMismatchError(
            f"a RUM report must be signed by the product instance, not "
            f"{envelope.signature.signing_type.value}"
        )
    rum = RumReport.from_envelope(envelope)
    if rum.signing_type is not envelope.signature.signing_type:
        raise SignatureMismatchError(
            f"report {rum.report_id}: signing type differs from the one in its payload"
        )
    envelope.verify_with(rum.public_key)
    if allowed is not None and not allowed.contains(rum.udi):
        raise WrongUdiError(f"report {rum.report_id} is from {rum.udi}, not the sender")
    return StoredReport(rum.udi, rum.report_id, payload_digest(envelope), envelope, rum.ha)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


class Utility:
    """One utility's state and behaviour; thread-safe (the HTTP server runs it in threads)."""

    def __init__(
        self,
        data: Path,
        *,
        db: str | None = None,
        clock: Callable[[], float] = time.time,
        upstream_factory: Callable[[str, str | None, str | None], Upstream] | None = None,
    ) -> None:
        self.data = Path(data)
        self.store = Store(self.data, db)
        self.vault = Vault(self.data)
        self.clock = clock
        self._upstream_factory = upstream_factory or (
            lambda url, token, tenant: Upstream(url, token, tenant=tenant)
        )
        self._upstreams: dict[str | None, Upstream] = {}
        # Request threads ask for the same upstream at once: one client per tenant, or the
        # extra ones would leak their sockets to the garbage collector.
        self._upstreams_lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def now(self) -> int:
        return int(self.clock())

    def close(self) -> None:
        self._drop_upstreams()
        self.store.close()

    def _drop_upstreams(self) -> None:
        with self._upstreams_lock:
            upstreams = list(self._upstreams.values())
            self._upstreams.clear()
        for upstream in upstreams:
            upstream.close()

    # --- preferences ------------------------------------------------------------------------

    def configure(
        self,
        *,
        connected: bool | None = None,
        authority_url: str | None = None,
        authority_token: str | None = None,
        account: str | None = None,
        va: str | None = None,
        authority_keys: bytes | None = None,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if connected is not None:
            values["mode"] = "connected" if connected else "disconnected"
        if authority_url is not None:
            values["authority_url"] = authority_url
        if authority_token is not None:
            values["authority_token"] = self.vault.encrypt(authority_token, "api-token").hex()
        if account is not None:
            values["account"] = account
        if va is not None:
            values["va"] = va
        if authority_keys is not None:
            chain = [e for e in xmlfile.read(authority_keys) if e.type is ArtifactType.KEYSET]
            if not chain:
                raise FormatError("the authority key file holds no key set")
            verifier = Verifier.from_anchor(chain[0])
            verifier.update(chain[1:])
            values["anchor"] = chain[0].to_bytes().decode()
            self._save_keysets(verifier.chain())
        if values.get("mode") == "connected" and not (
            authority_url or self.store.prefs().get("authority_url")
        ):
            raise ConfigurationError("connected mode needs --authority URL")
        self.store.set_prefs(**values)
        self._drop_upstreams()
        return self.preferences()

    def preferences(self) -> dict[str, Any]:
        prefs = self.store.prefs()
        return {
            "mode": prefs.get("mode", "disconnected"),
            "authority_url": prefs.get("authority_url"),
            "authority_token": "set" if prefs.get("authority_token") else None,
            "account": prefs.get("account"),
            "va": prefs.get("va"),
            "authority_keys": "anchor" in prefs,
        }

    @property
    def connected(self) -> bool:
        prefs = self.store.prefs()
        return prefs.get("mode") == "connected" and bool(prefs.get("authority_url"))

    def upstream(self, tenant: str | None = None) -> Upstream:
        with self._upstreams_lock:
            return self._upstream_locked(tenant)

    def _upstream_locked(self, tenant: str | None) -> Upstream:
        upstream = self._upstreams.get(tenant)
        if upstream is None:
            prefs = self.store.prefs()
            url = prefs.get("authority_url")
            if not url:
                raise UnavailableError("the utility is not connected to an authority")
            token_hex = prefs.get("authority_token")
            token = self.vault.decrypt(bytes.fromhex(token_hex), "api-token") if token_hex else None
            upstream = self._upstream_factory(url, token, tenant)
            self._upstreams[tenant] = upstream
        return upstream

    def _relayed(self, request: Request, body: bytes) -> bytes:
        """The instance's message as the utility sends it on.

        The authority sends only the key sets newer than the ones the message says are held,
        and the utility verifies the answer with its own chain. An instance that learned a
        newer key set elsewhere (an ACK file across the air gap) would leave the utility unable
        to verify: the utility then asks from its own version. The instance skips the key sets
        it already holds."""
        verifier = self.verifier()
        if verifier is None or request.state.keyset_version <= verifier.trusted.version:
            return body
        state = replace(request.state, keyset_version=verifier.trusted.version)
        return replace(request, state=state).to_bytes()

    def _exchange(self, body: bytes, tenant: str | None) -> Response:
        try:
            response = self.upstream(tenant).exchange(body)
        except CommunicationError as exc:
            self.store.bump("upstream_errors")
            log.warning("authority unreachable: %s", exc.reason)
            raise
        return response

    # --- authority keys ---------------------------------------------------------------------

    def _save_keysets(self, chain: Iterable[Envelope]) -> None:
        with self.store.tx() as c:
            for envelope in chain:
                version = KeySet.from_json(envelope.payload_json()).version
                c.execute(
                    "INSERT INTO keysets (version, envelope) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (version, envelope.to_bytes().decode()),
                )

    def keysets(self) -> list[Envelope]:
        return [
            Envelope.parse(r["envelope"])
            for r in self.store.rows("SELECT envelope FROM keysets ORDER BY version")
        ]

    def verifier(self) -> Verifier | None:
        """The authority's keys: the anchor of the preferences (or pinned from the first ACK
        file), walked forward through every key set accepted since."""
        anchor = self.store.prefs().get("anchor")
        if anchor is None:
            return None
        verifier = Verifier.from_anchor(Envelope.parse(anchor))
        verifier.update(self.keysets())
        return verifier

    def _learn(self, verifier: Verifier | None, envelopes: Iterable[Envelope]) -> Verifier | None:
        chain = sorted(
            (e for e in envelopes if e.type is ArtifactType.KEYSET),
            key=lambda e: KeySet.from_json(e.payload_json()).version,
        )
        if chain and verifier is not None and verifier.update(chain):
            self._save_keysets(verifier.chain())
        return verifier

    # --- the push endpoint ------------------------------------------------------------------

    def handle(self, body: bytes, tenant: str | None = None) -> Response:
        """One product-instance message in, its answer out (never raises a SmartLicError)."""
        message_id = _guess_message_id(body)
        try:
            request = Request.parse(body)
            message_id = request.message_id
            if request.kind is Kind.USAGE_REPORT:
                response = self._usage(request, body, tenant)
            elif request.kind is Kind.RESULT_POLL:
                response = self._result_poll(request, tenant)
            elif request.kind is Kind.HELLO:
                response = self._hello(request, body, tenant)
            else:
                response = self._forward_only(request, body, tenant)
            log.info(
                "%s from %s: %s (%d artifact(s))",
                request.kind.value,
                request.udi,
                response.status.value,
                len(response.artifacts),
            )
            return response
        except SmartLicError as exc:
            log.info("refused %s: %s %s", message_id, exc.code, exc.reason)
            return Response.from_error(message_id, exc)

    def _seen(self, request: Request, mode: str = "push") -> None:
        with self.store.tx() as c:
            self._upsert_instance(c, str(request.udi), mode, request.hostname)

    @staticmethod
    def _upsert_instance(c: Any, udi: str, mode: str, hostname: str | None) -> None:
        c.execute(
            "INSERT INTO instances (udi, mode, hostname, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (udi) DO UPDATE SET mode = excluded.mode, "
            "hostname = COALESCE(excluded.hostname, instances.hostname), "
            "last_seen = excluded.last_seen",
            (udi, mode, hostname, int(time.time())),
        )

    def store_reports(
        self, reports: list[StoredReport], sender: str, mode: str, hostname: str | None
    ) -> int:
        """Store verified reports in one transaction; a different report under a stored id
        refuses them all (``REPLAY``). Returns how many were new."""
        new = 0
        now = self.now()
        with self.store.tx() as c:
            self._upsert_instance(c, sender, mode, hostname)
            for item in reports:
                old = c.execute(
                    "SELECT digest FROM reports WHERE udi = ? AND report_id = ?",
                    (str(item.udi), item.report_id),
                ).fetchone()
                if old is not None:
                    if old["digest"] != item.digest:
                        raise ReplayError(
                            f"report id {item.report_id} of {item.udi} is already stored "
                            "with other content; nothing from this request was stored"
                        )
                    continue
                c.execute(
                    "INSERT INTO reports (udi, report_id, digest, envelope, received_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        str(item.udi),
                        item.report_id,
                        item.digest,
                        item.envelope.to_bytes().decode(),
                        now,
                    ),
                )
                new += 1
        return new

    def _usage(self, request: Request, body: bytes, tenant: str | None) -> Response:
        reports = [verify_report(env, request.ha) for env in request.reports]
        self.store_reports(reports, str(request.udi), "push", request.hostname)
        fault("push.stored")
        keys = [(str(r.udi), r.report_id, r.digest) for r in reports]
        if self.connected:
            try:
                return self._forward_usage(request, body, tenant)
            except CommunicationError:
                return self._new_poll(request, body, POLL_RETRY_CONNECTED)
        held = self._held_acks(keys)
        if held is not None:
            with self.store.tx() as c:
                self._mark_delivered(c, held)
            return Response.ok(request.message_id, self._with_keysets(held, request.state))
        return self._new_poll(request, body, POLL_RETRY_DISCONNECTED)

    def _forward_usage(self, request: Request, body: bytes, tenant: str | None) -> Response:
        response = self._exchange(self._relayed(request, body), tenant)
        fault("push.uploaded")
        if response.status is Status.OK:
            self.accept(response.artifacts, request.udi)
            fault("push.acked")
            self._delivered_with(request)
        return Response(
            response.status,
            request.message_id,
            response.artifacts,
            response.poll_id,
            response.retry_after,
            response.error_code,
            response.error_message,
        )

    def _delivered_with(self, request: Request) -> None:
        """The answer to ``request`` acknowledges its reports: every held ACK of this UDI that
        covers only those reports (the relayed one, or one a background upload fetched) is
        delivered with it."""
        ids = [verify_report(e).report_id for e in request.reports]
        if not ids:
            return
        sent = set(ids)
        with self.store.tx() as c:
            covers: dict[str, set[int]] = {}
            for row in c.execute(
                "SELECT a.ack_id, r.report_id FROM acks a "
                "LEFT JOIN ack_reports r ON r.ack_id = a.ack_id "
                "WHERE a.udi = ? AND a.delivered_at IS NULL",
                (str(request.udi),),
            ).fetchall():
                reports = covers.setdefault(row[0], set())
                if row[1] is not None:
                    reports.add(int(row[1]))
            for ack_id, reports in covers.items():
                if reports <= sent:
                    c.execute(
                        "UPDATE acks SET delivered_at = ? WHERE ack_id = ?", (self.now(), ack_id)
                    )

    def _new_poll(self, request: Request, body: bytes, retry_after: int) -> Response:
        poll_id = secrets.token_hex(16)
        with self.store.tx() as c:
            c.execute(
                "INSERT INTO polls (poll_id, udi, kind, request, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (poll_id, str(request.udi), request.kind.value, body.decode(), self.now()),
            )
        return Response.poll(request.message_id, poll_id, retry_after)

    def _result_poll(self, request: Request, tenant: str | None) -> Response:
        row = self.store.row(
            "SELECT * FROM polls WHERE poll_id = ? AND udi = ?",
            (request.poll_id, str(request.udi)),
        )
        if row is None:
            raise NotFoundError(f"no pending result {request.poll_id!r} for {request.udi}")
        self._seen(request)
        if row["response"] is not None:
            return Response.ok(request.message_id, Response.parse(row["response"]).artifacts)
        original = Request.parse(row["request"])
        body = row["request"].encode()
        response: Response | None = None
        if self.connected:
            try:
                if original.kind is Kind.USAGE_REPORT:
                    response = self._forward_usage(original, body, tenant)
                else:
                    response = self._hello(original, body, tenant)
            except CommunicationError:
                response = None
            if response is not None and response.status is Status.ERROR:
                return Response(
                    Status.ERROR,
                    request.message_id,
                    error_code=response.error_code,
                    error_message=response.error_message,
                )
        else:
            keys = [
                (str(r.udi), r.report_id, r.digest)
                for r in (verify_report(e) for e in original.reports)
            ]
            held = self._held_acks(keys) if keys else self._missing(original.udi, original.state)
            if held:
                response = Response.ok(request.message_id, self._with_keysets(held, original.state))
        if response is None or response.status is not Status.OK:
            retry = POLL_RETRY_CONNECTED if self.connected else POLL_RETRY_DISCONNECTED
            return Response.poll(request.message_id, row["poll_id"], retry)
        with self.store.tx() as c:
            c.execute(
                "UPDATE polls SET response = ? WHERE poll_id = ?",
                (response.to_bytes().decode(), row["poll_id"]),
            )
            self._mark_delivered(c, response.artifacts)
        return Response.ok(request.message_id, response.artifacts)

    def _hello(self, request: Request, body: bytes, tenant: str | None) -> Response:
        self._seen(request)
        if self.connected:
            try:
                response = self._exchange(self._relayed(request, body), tenant)
            except CommunicationError:
                pass
            else:
                if response.status is Status.OK:
                    self.accept(response.artifacts, request.udi)
                return Response(
                    response.status,
                    request.message_id,
                    response.artifacts,
                    error_code=response.error_code,
                    error_message=response.error_message,
                )
        held = self._missing(request.udi, request.state)
        if request.state.policy_issued_at is None and not any(
            e.type is ArtifactType.POLICY for e in held
        ):
            # No policy and none held: the next Download All For Cisco asks for it.
            self._want(request.udi, None)
        return Response.ok(request.message_id, self._with_keysets(held, request.state))

    def _want(self, udi: Udi, va: str | None) -> None:
        """Remember that ``udi`` lacks what only the authority can give (its policy): Download
        All For Cisco then writes a hello entry for it, even with no report to send."""
        with self.store.tx() as c:
            c.execute(
                "INSERT INTO wants (udi, va, asked_at) VALUES (?, ?, ?) "
                "ON CONFLICT (udi) DO UPDATE SET va = COALESCE(excluded.va, wants.va)",
                (str(udi), va, self.now()),
            )

    def _forward_only(self, request: Request, body: bytes, tenant: str | None) -> Response:
        """Trust requests and authorization requests/returns need the authority now."""
        self._seen(request)
        if not self.connected:
            raise UnavailableError(
                f"the utility is disconnected from the authority: {request.kind.value} "
                "needs a connection (use files at the authority instead)"
            )
        try:
            response = self._exchange(self._relayed(request, body), tenant)
        except CommunicationError as exc:
            raise UnavailableError(f"the authority is unreachable: {exc.reason}") from None
        if response.status is Status.OK:
            self.accept(response.artifacts, request.udi)
        return Response(
            response.status,
            request.message_id,
            response.artifacts,
            response.poll_id,
            response.retry_after,
            response.error_code,
            response.error_message,
        )

    # --- what the utility holds -------------------------------------------------------------

    def accept(
        self,
        artifacts: Iterable[Envelope],
        udi: Udi,
        *,
        verifier: Verifier | None = None,
        keysets: Iterable[Envelope] = (),
    ) -> int:
        """Verify and store the authority's artifacts for ``udi``; returns reports acknowledged.

        Without authority keys (no ``--authority-keys``) an answer of the authenticated upstream
        is taken as it is; with them, anything that does not verify is refused.
        """
        artifacts = list(artifacts)
        if verifier is None:
            verifier = self._learn(self.verifier(), [*keysets, *artifacts])
        now = self.now()

        def check(envelope: Envelope, kind: ArtifactType) -> Any:
            if verifier is None:
                return envelope.expect(kind).payload_json()
            return verifier.verify(envelope, kind, now=now)

        with self.store.tx() as c:
            return self._accept_in(c, artifacts, udi, check)

    def _accept_in(
        self,
        c: Any,
        artifacts: list[Envelope],
        udi: Udi,
        check: Callable[[Envelope, ArtifactType], Any],
    ) -> int:
        acked = 0
        for envelope in artifacts:
            if envelope.type is ArtifactType.ACK:
                ack = Ack.from_json(check(envelope, ArtifactType.ACK))
                if ack.udi != udi:
                    raise WrongUdiError(f"ACK {ack.ack_id} is for {ack.udi}, not {udi}")
                acked += self._store_ack(c, ack, envelope)
                if ack.policy is not None:
                    self._store_policy(c, udi, ack.policy, check)
                for slac in ack.slacs:
                    self._store_slac(c, udi, slac, check)
            elif envelope.type is ArtifactType.POLICY:
                self._store_policy(c, udi, envelope, check)
            elif envelope.type is ArtifactType.SLAC:
                self._store_slac(c, udi, envelope, check)
        return acked

    def _store_ack(self, c: Any, ack: Ack, envelope: Envelope) -> int:
        c.execute(
            "INSERT INTO acks (ack_id, udi, envelope, received_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (ack.ack_id, str(ack.udi), envelope.to_bytes().decode(), self.now()),
        )
        acked = 0
        for item in ack.acked:
            c.execute(
                "INSERT INTO ack_reports (ack_id, udi, report_id, digest) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (ack.ack_id, str(ack.udi), item.report_id, item.digest),
            )
            # An ACK acknowledges reports of its UDI (or of a member of its HA set).
            cur = c.execute(
                "UPDATE reports SET ack_id = ?, uploaded_at = COALESCE(uploaded_at, ?) "
                "WHERE report_id = ? AND digest = ? AND ack_id IS NULL",
                (ack.ack_id, self.now(), item.report_id, item.digest),
            )
            acked += cur.rowcount
        return acked

    @staticmethod
    def _store_policy(
        c: Any, udi: Udi, envelope: Envelope, check: Callable[[Envelope, ArtifactType], Any]
    ) -> None:
        grant = PolicyGrant.from_json(check(envelope, ArtifactType.POLICY))
        c.execute(
            "INSERT INTO artifacts (udi, kind, ref, issued_at, envelope) "
            "VALUES (?, 'policy', ?, ?, ?) ON CONFLICT DO NOTHING",
            (str(udi), payload_digest(envelope), grant.issued_at, envelope.to_bytes().decode()),
        )

    @staticmethod
    def _store_slac(
        c: Any, udi: Udi, envelope: Envelope, check: Callable[[Envelope, ArtifactType], Any]
    ) -> None:
        code = AuthorizationCode.from_json(check(envelope, ArtifactType.SLAC))
        c.execute(
            "INSERT INTO artifacts (udi, kind, ref, issued_at, envelope) "
            "VALUES (?, 'slac', ?, ?, ?) ON CONFLICT DO NOTHING",
            (str(udi), code.code_id, code.issued_at, envelope.to_bytes().decode()),
        )

    def _held_acks(self, keys: list[tuple[str, int, str]]) -> list[Envelope] | None:
        """The stored ACKs covering every one of these reports, or None if one is not covered."""
        ack_ids: list[str] = []
        for udi, report_id, digest in keys:
            row = self.store.row(
                "SELECT r.ack_id FROM ack_reports r JOIN acks a ON a.ack_id = r.ack_id "
                "WHERE r.udi = ? AND r.report_id = ? AND r.digest = ? "
                "ORDER BY a.received_at DESC, r.ack_id DESC LIMIT 1",
                (udi, report_id, digest),
            )
            if row is None:
                row = self.store.row(
                    "SELECT ack_id FROM reports WHERE udi = ? AND report_id = ? AND digest = ? "
                    "AND ack_id IS NOT NULL",
                    (udi, report_id, digest),
                )
            if row is None:
                return None
            if row["ack_id"] not in ack_ids:
                ack_ids.append(row["ack_id"])
        return [
            Envelope.parse(self.store.scalar("SELECT envelope FROM acks WHERE ack_id = ?", (a,)))
            for a in ack_ids
        ]

    def _missing(self, udi: Udi, state: InstanceState) -> list[Envelope]:
        """What the utility holds that ``state`` shows the instance lacks: the newest policy
        (if newer than the installed one) and authorization codes not installed."""
        out: list[Envelope] = []
        policy = self.store.row(
            "SELECT envelope, issued_at FROM artifacts WHERE udi = ? AND kind = 'policy' "
            "ORDER BY issued_at DESC LIMIT 1",
            (str(udi),),
        )
        if policy is not None and (
            state.policy_issued_at is None or state.policy_issued_at < policy["issued_at"]
        ):
            out.append(Envelope.parse(policy["envelope"]))
        for row in self.store.rows(
            "SELECT ref, envelope FROM artifacts WHERE udi = ? AND kind = 'slac'", (str(udi),)
        ):
            if row["ref"] not in state.slac_code_ids:
                out.append(Envelope.parse(row["envelope"]))
        return out

    def _with_keysets(
        self, artifacts: list[Envelope], state: InstanceState
    ) -> tuple[Envelope, ...]:
        """Key sets travel first, on their own (docs/protocol.md)."""
        newer = [
            Envelope.parse(r["envelope"])
            for r in self.store.rows(
                "SELECT envelope FROM keysets WHERE version > ? ORDER BY version",
                (state.keyset_version,),
            )
        ]
        return (*newer, *artifacts)

    def _mark_delivered(self, c: Any, artifacts: Iterable[Envelope]) -> None:
        for envelope in artifacts:
            if envelope.type is ArtifactType.ACK:
                c.execute(
                    "UPDATE acks SET delivered_at = ? WHERE ack_id = ? AND delivered_at IS NULL",
                    (self.now(), Ack.from_json(envelope.payload_json()).ack_id),
                )

    # --- inventory (pull) -------------------------------------------------------------------

    def add_device(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        udi: str | None = None,
        scheme: str = "http",
        va: str | None = None,
    ) -> dict[str, Any]:
        with self.store.tx() as c:
            self._put_device(c, host, port, username, password, udi, scheme, va)
        device = self.store.row("SELECT * FROM devices WHERE host = ? AND port = ?", (host, port))
        assert device is not None
        return self._device_json(device)

    def _put_device(
        self,
        c: Any,
        host: str,
        port: int,
        username: str,
        password: str,
        udi: str | None,
        scheme: str = "http",
        va: str | None = None,
    ) -> None:
        if udi:
            udi = str(Udi.parse(udi))
        if not host or not 0 < port < 65536:
            raise FormatError(f"bad device address {host!r}:{port}")
        context = f"{host}:{port}"
        c.execute(
            "INSERT INTO devices (host, port, username, password, udi, scheme, va) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host, port) DO UPDATE SET "
            "username = excluded.username, password = excluded.password, "
            "udi = COALESCE(excluded.udi, devices.udi), scheme = excluded.scheme, "
            "va = COALESCE(excluded.va, devices.va)",
            (
                host,
                port,
                username,
                self.vault.encrypt(password, context),
                udi,
                scheme,
                va or None,
            ),
        )

    def import_csv(self, text: str, *, progress: Progress | None = None) -> list[dict[str, Any]]:
        """Rows ``host, port, udi, username, password`` (a header row is allowed)."""
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(x.strip() for x in r)]
        if rows and rows[0][0].strip().lower() == "host":
            rows = rows[1:]
        parsed = []
        for number, row in enumerate(rows, start=1):
            if len(row) == 6 and row[3].strip().upper().startswith("SN:"):
                # An unquoted UDI ("PID:x,SN:y") spans two fields.
                row = [row[0], row[1], f"{row[2].strip()},{row[3].strip()}", row[4], row[5]]
            if len(row) != 5:
                raise FormatError(
                    f"CSV row {number}: expected host,port,udi,username,password "
                    f"({len(row)} fields)"
                )
            host, port, udi, username, password = (x.strip() for x in row)
            if not port.isdigit():
                raise FormatError(f"CSV row {number}: port {port!r} is not a number")
            parsed.append((host, int(port), udi or None, username, password))
        # One transaction: all or nothing, and one sync to disk for the whole file.
        with self.store.tx() as c:
            for number, item in enumerate(parsed, start=1):
                self._put_device(c, item[0], item[1], item[3], item[4], item[2])
                if progress is not None:
                    progress("Importing devices", number, len(parsed))
        wanted = {(item[0], item[1]) for item in parsed}
        return [
            self._device_json(r)
            for r in self.store.rows("SELECT * FROM devices ORDER BY id")
            if (r["host"], r["port"]) in wanted
        ]

    def devices(self) -> list[dict[str, Any]]:
        return [self._device_json(r) for r in self.store.rows("SELECT * FROM devices ORDER BY id")]

    @staticmethod
    def _device_json(row: Any) -> dict[str, Any]:
        return {
            "id": row["id"],
            "host": row["host"],
            "port": row["port"],
            "udi": row["udi"],
            "username": row["username"],
            "va": row["va"],
            "status": row["status"],
            "error": row["error"],
            "last_collect_at": row["last_collect_at"],
        }

    def remove_device(self, ref: str) -> int:
        with self.store.tx() as c:
            cur = c.execute(
                "DELETE FROM devices WHERE udi = ? OR CAST(id AS TEXT) = ? "
                "OR host || ':' || port = ?",
                (ref, ref, ref),
            )
            count = int(cur.rowcount)
        if not count:
            raise NotFoundError(f"no device {ref!r} in the inventory")
        return count

    def select_devices(self, refs: list[str] | None) -> list[Any]:
        rows = self.store.rows("SELECT * FROM devices ORDER BY id")
        if not refs:
            return rows
        chosen: list[Any] = []
        for ref in refs:
            match = [r for r in rows if ref in (r["udi"], str(r["id"]), f"{r['host']}:{r['port']}")]
            if not match:
                raise NotFoundError(f"no device {ref!r} in the inventory")
            chosen.extend(m for m in match if m not in chosen)
        return chosen

    # --- Collect Usage ----------------------------------------------------------------------

    def collect(
        self,
        refs: list[str] | None = None,
        *,
        parallel: int = 8,
        timeout: float = 15.0,
        on_done: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Collect from the chosen devices (all by default), ``parallel`` at a time."""
        devices = self.select_devices(refs)

        def one(device: Any) -> dict[str, Any]:
            result = self._collect_one(device, timeout)
            if on_done is not None:
                on_done(result)
            return result

        out: list[dict[str, Any]] = []
        unrecorded: list[tuple[Any, dict[str, Any]]] = []
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            try:
                for device, result in zip(devices, pool.map(one, devices), strict=True):
                    out.append(result)
                    unrecorded.append((device, result))
                    if len(unrecorded) >= STATUS_BATCH:
                        self._record_status(unrecorded)
                        unrecorded = []
            finally:
                if unrecorded:
                    self._record_status(unrecorded)
        return out

    def _record_status(self, done: list[tuple[Any, dict[str, Any]]]) -> None:
        """Each device's status, many to a transaction: a commit (one sync to disk) per device
        on top of the one storing its reports would halve the rate of a collection."""
        with self.store.tx() as c:
            for device, result in done:
                c.execute(
                    "UPDATE devices SET status = ?, error = ?, last_collect_at = ?, "
                    "udi = COALESCE(udi, ?) WHERE id = ?",
                    (result["status"], result["error"], self.now(), result["udi"], device["id"]),
                )

    def _device_client(self, device: Any, timeout: float) -> httpx.Client:
        password = self.vault.decrypt(device["password"], f"{device['host']}:{device['port']}")
        if self._tls is None:
            # One TLS context for every device client: building one (loading the CA bundle)
            # costs more than a whole collection from a device.
            self._tls = ssl.create_default_context()
        return httpx.Client(
            base_url=f"{device['scheme']}://{device['host']}:{device['port']}",
            auth=(device["username"], password),
            timeout=timeout,
            verify=self._tls,
        )

    def _collect_one(self, device: Any, timeout: float) -> dict[str, Any]:
        result: dict[str, Any] = {
            "device": f"{device['host']}:{device['port']}",
            "udi": device["udi"],
            "collected": 0,
            "new": 0,
            "uploaded": 0,
            "acked": 0,
            "delivered": 0,
            "status": "ok",
            "error": None,
        }
        try:
            with self._device_client(device, timeout) as client:
                self._collect_with(client, device, result)
        except httpx.HTTPError as exc:
            result.update(status="unreachable", error=f"{type(exc).__name__}: {exc}")
        except CommunicationError as exc:
            result.update(status="upload failed", error=exc.reason)
        except SmartLicError as exc:
            result.update(status="error", error=f"{exc.code}: {exc.reason}")
        return result

    @staticmethod
    def _device_call(reply: httpx.Response, what: str) -> Any:
        if reply.status_code == 401:
            raise ConfigurationError(f"{what}: the device refused the username or password")
        if reply.status_code >= 400:
            try:
                detail = reply.json()
                message = f"{detail.get('code')}: {detail.get('message')}"
            except ValueError:
                message = reply.text[:200]
            raise SmartLicError(f"{what}: HTTP {reply.status_code} {message}")
        return reply.json()

    def _collect_with(self, client: httpx.Client, device: Any, result: dict[str, Any]) -> None:
        self._device_call(client.post("/smartlic-service/close-reports"), "close-reports")
        usage = self._device_call(client.get("/smartlic-service/all-reports"), "all-reports")
        envelopes = [
            Envelope.from_json(item, path=f"all-reports.usage[{i}]")
            for i, item in enumerate(usage.get("usage", []) if isinstance(usage, dict) else [])
        ]
        known = Udi.parse(device["udi"]) if device["udi"] else None
        reports = [verify_report(e) for e in envelopes]
        if known is None and reports:
            known = reports[0].udi
        if known is None:
            result.update(status="no reports", error="no reports yet and no UDI known")
            return
        wanted = not reports and not self.connected
        if wanted:
            # Nothing to report, but the device may lack its policy: ask through the files.
            self._want(known, device["va"])
        for item in reports:
            if item.udi != known and not item.ha.contains(known):
                raise WrongUdiError(f"device answered a report of {item.udi}, expected {known}")
        result["udi"] = str(known)
        result["collected"] = len(reports)
        result["new"] = self.store_reports(reports, str(known), "pull", None)
        fault("collect.stored")
        if self.connected:
            uploaded, acked = self.upload_pending(known)
            result.update(uploaded=uploaded, acked=acked)
        result["delivered"] = self._deliver_to_device(client, known)
        if not self.connected and (wanted or self.waiting(known)):
            result["status"] = "waiting for ACK file"

    def waiting(self, udi: Udi | None = None) -> int:
        if udi is None:
            return int(self.store.scalar("SELECT COUNT(*) FROM reports WHERE ack_id IS NULL"))
        return int(
            self.store.scalar(
                "SELECT COUNT(*) FROM reports WHERE ack_id IS NULL AND udi = ?", (str(udi),)
            )
        )

    def upload_pending(self, udi: Udi) -> tuple[int, int]:
        """Send every unacknowledged report of ``udi`` to the authority, in batches, and store
        the ACKs. Also asks (``hello``) when there is nothing to send, so a missing policy is
        re-furnished. The state sent is empty: the utility does not know what the device holds,
        so the authority includes the policy in force and the key-set chain."""
        rows = self.store.rows(
            "SELECT envelope FROM reports WHERE udi = ? AND ack_id IS NULL ORDER BY report_id",
            (str(udi),),
        )
        envelopes = [Envelope.parse(r["envelope"]) for r in rows]
        batches = [
            envelopes[i : i + MAX_REPORTS_PER_MESSAGE]
            for i in range(0, len(envelopes), MAX_REPORTS_PER_MESSAGE)
        ] or [[]]
        ha = HaSet.standalone(udi)
        if envelopes:
            first = RumReport.from_envelope(envelopes[0])
            if first.ha.contains(udi):
                ha = first.ha
        uploaded = acked = 0
        for batch in batches:
            digest = hashlib.sha256(b"".join(e.payload_bytes for e in batch)).hexdigest()
            request = Request(
                kind=Kind.USAGE_REPORT if batch else Kind.HELLO,
                message_id=f"u{digest[:31]}",
                sent_at=self.now(),
                udi=udi,
                ha=ha,
                state=InstanceState(),
                reports=tuple(batch),
            )
            response = self._exchange(request.to_bytes(), None)
            fault("collect.uploaded")
            response.raise_for_error()
            uploaded += len(batch)
            acked += self.accept(response.artifacts, udi)
        return uploaded, acked

    def upload_all(self) -> dict[str, Any]:
        """Connected: send every stored report not yet acknowledged (by UDI, in batches) and
        store the ACKs; they are handed over on the instance's next contact (push) or by
        ``import`` (pull). A UDI that fails keeps its reports for the next round."""
        if not self.connected:
            raise UnavailableError("the utility is disconnected: use download-all instead")
        udis = [
            r["udi"]
            for r in self.store.rows(
                "SELECT DISTINCT udi FROM reports WHERE ack_id IS NULL ORDER BY udi"
            )
        ]
        out: dict[str, Any] = {"instances": len(udis), "uploaded": 0, "acked": 0, "failed": {}}
        for udi in udis:
            try:
                uploaded, acked = self.upload_pending(Udi.parse(udi))
            except SmartLicError as exc:
                out["failed"][udi] = f"{exc.code}: {exc.reason}"
                continue
            out["uploaded"] += uploaded
            out["acked"] += acked
        out["waiting"] = self.waiting()
        return out

    def _deliver_to_device(self, client: httpx.Client, udi: Udi) -> int:
        """``import`` every ACK not yet delivered (key sets first), then any held policy."""
        delivered = 0
        rows = self.store.rows(
            "SELECT ack_id, envelope FROM acks WHERE udi = ? AND delivered_at IS NULL "
            "ORDER BY received_at",
            (str(udi),),
        )
        for row in rows:
            data = xmlfile.write([*self.keysets(), Envelope.parse(row["envelope"])])
            reply = client.post(
                "/smartlic-service/import", content=data, headers={"Content-Type": "text/xml"}
            )
            if reply.status_code >= 400 and reply.status_code != 409:
                self._device_call(reply, "import")
            with self.store.tx() as c:
                c.execute(
                    "UPDATE acks SET delivered_at = ? WHERE ack_id = ?", (self.now(), row["ack_id"])
                )
            delivered += 1
        return delivered

    def deliver_pending(
        self, *, parallel: int = 8, timeout: float = 15.0, progress: Progress | None = None
    ) -> list[dict[str, Any]]:
        """Import held ACKs into the pull devices that have them waiting (after Upload From
        Cisco). A device that cannot be reached keeps them for the next collection."""
        devices = [
            d
            for d in self.store.rows("SELECT * FROM devices WHERE udi IS NOT NULL")
            if self.store.scalar(
                "SELECT COUNT(*) FROM acks WHERE udi = ? AND delivered_at IS NULL", (d["udi"],)
            )
        ]

        def one(device: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"device": f"{device['host']}:{device['port']}"}
            try:
                with self._device_client(device, timeout) as client:
                    out["delivered"] = self._deliver_to_device(client, Udi.parse(device["udi"]))
                out["status"] = "ok"
            except (httpx.HTTPError, SmartLicError) as exc:
                out.update(status="unreachable", error=str(exc))
            return out

        out: list[dict[str, Any]] = []
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            for result in pool.map(one, devices):
                out.append(result)
                if progress is not None:
                    progress("Delivering to devices", len(out), len(devices))
        return out

    # --- files: Download All For Cisco / Upload From Cisco ----------------------------------

    def download_all(self, path: Path, *, progress: Progress | None = None) -> dict[str, Any]:
        """Every report not yet acknowledged, in one usage file signed with the utility key."""
        rows = self.store.rows(
            "SELECT udi, envelope FROM reports WHERE ack_id IS NULL ORDER BY udi, report_id"
        )
        wants = {r["udi"]: r["va"] for r in self.store.rows("SELECT udi, va FROM wants")}
        if not rows and not wants:
            raise NotFoundError("no unreported usage: nothing to download for Cisco")
        # The virtual account of each instance: its device's (pull), else the one it asked in.
        vas: dict[str, str | None] = dict(wants)
        for device in self.store.rows("SELECT udi, va FROM devices WHERE udi IS NOT NULL"):
            if device["va"]:
                vas[device["udi"]] = device["va"]
        groups: dict[str, list[Envelope]] = {}
        for row in rows:
            groups.setdefault(row["udi"], []).append(Envelope.parse(row["envelope"]))
        members: list[bundle.Member] = []
        entries = []
        for udi_text, envelopes in groups.items():
            udi = Udi.parse(udi_text)
            member = bundle.Member(
                f"UD_{_safe(udi.sn)}_{_safe(udi.pid)}.xml", xmlfile.write(envelopes)
            )
            members.append(member)
            entries.append(bundle.entry_for(member, udi, len(envelopes), vas.get(udi_text)))
            if progress is not None:
                progress("Writing the usage file", len(entries), len(groups))
        hellos = sorted(set(wants) - set(groups))
        for udi_text in hellos:
            # A hello entry: no report, asks for what the instance lacks (docs/formats.md).
            udi = Udi.parse(udi_text)
            member = bundle.Member(f"HELLO_{_safe(udi.sn)}_{_safe(udi.pid)}.xml", xmlfile.write([]))
            members.append(member)
            entries.append(bundle.entry_for(member, udi, 0, vas.get(udi_text)))
        prefs = self.store.prefs()
        key = self.vault.signing_key()
        account = (
            Account(prefs["account"], prefs["va"])
            if prefs.get("account") and prefs.get("va")
            else None
        )
        manifest = BundleManifest(
            bundle_id=uuid.uuid4().hex,
            created_at=self.now(),
            created_by=CREATED_BY,
            entries=tuple(entries),
            account=account,
            signer_public_key=key.public,
        )
        signed = sign(ArtifactType.USAGE_FILE, manifest.to_json(), key, SigningType.UTILITY)
        if len(signed.payload) > bundle.MAX_MANIFEST_BYTES:
            # The manifest is one envelope: past its size limit no authority can read the file.
            raise OversizedError(
                f"{len(entries)} instances do not fit in one usage file (its manifest would be "
                f"{len(signed.payload)} bytes, more than {bundle.MAX_MANIFEST_BYTES}); "
                "nothing written",
                hint="About a million instances fit in one usage file; see docs/utility.md.",
            )
        out = io.BytesIO()
        bundle.write(out, ArtifactType.USAGE_FILE, manifest, signed, members)
        data = out.getvalue()
        # Recorded before the file exists: an ACK file can only answer a bundle we know.
        with self.store.tx() as c:
            c.execute(
                "INSERT INTO bundles (bundle_id, created_at, path, reports) VALUES (?, ?, ?, ?)",
                (manifest.bundle_id, manifest.created_at, str(path), len(rows)),
            )
        atomic_write(Path(path), data)
        return {
            "file": str(path),
            "bundle_id": manifest.bundle_id,
            "reports": len(rows),
            "instances": len(groups) + len(hellos),
            "hellos": len(hellos),
            "bytes": len(data),
        }

    def upload_from(self, path: Path, *, progress: Progress | None = None) -> dict[str, Any]:
        """Import the authority's ACK file: verified in full first, then stored in one
        transaction. A corrupt, foreign or unrelated file imports nothing and says why."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise FormatError(f"cannot read {path}: {exc.strerror}") from None
        signed_manifests: list[tuple[Envelope, BundleManifest]] = []

        def remember(signed: Envelope, manifest: BundleManifest) -> None:
            if signed.signature.signing_type is not SigningType.AUTHORITY:
                raise SignatureMismatchError(
                    "the ACK file manifest is not signed by an authority "
                    f"(signing type {signed.signature.signing_type.value})"
                )
            signed_manifests.append((signed, manifest))

        # Read (and digest-check) everything before trusting or storing any of it.
        entries = list(bundle.read(io.BytesIO(data), ArtifactType.ACK_FILE, remember))
        signed, manifest = signed_manifests[0]
        chain_by_payload: dict[str, Envelope] = {}
        for _, envelopes in entries:
            for env in envelopes:
                if env.type is ArtifactType.KEYSET:
                    chain_by_payload.setdefault(env.payload, env)
        chain = sorted(
            chain_by_payload.values(), key=lambda e: KeySet.from_json(e.payload_json()).version
        )
        verifier = self.verifier()
        pinned: Envelope | None = None
        if verifier is None:
            if not chain:
                raise VerificationError(
                    "the ACK file carries no key set and the utility has no authority keys",
                    hint="Give the authority's key set with `serve --authority-keys FILE`.",
                )
            pinned = chain[0]
            verifier = Verifier.from_anchor(pinned)
        verifier.update(chain)
        now = self.now()
        verifier.verify(signed, ArtifactType.ACK_FILE, now=now)
        if manifest.in_reply_to is None or not self.store.scalar(
            "SELECT COUNT(*) FROM bundles WHERE bundle_id = ?", (manifest.in_reply_to,)
        ):
            raise VerificationError(
                f"this ACK file answers usage file {manifest.in_reply_to or '(none)'}, which "
                "this utility did not write: it belongs to another utility or was not made "
                "from a Download All For Cisco file"
            )
        acks: list[tuple[Udi, Envelope]] = []
        verified: dict[int, Any] = {}  # each ACK's payload, verified once (id of its envelope)
        for number, (entry, envelopes) in enumerate(entries, start=1):
            for env in envelopes:
                if env.type is ArtifactType.KEYSET:
                    continue
                if env.type is not ArtifactType.ACK:
                    raise FormatError(f"ACK file member {entry.name} holds a {env.type.value}")
                verified[id(env)] = verifier.verify(env, ArtifactType.ACK, now=now)
                ack = Ack.from_json(verified[id(env)])
                if entry.udi is not None and ack.udi != entry.udi:
                    raise WrongUdiError(f"member {entry.name} holds an ACK for {ack.udi}")
                acks.append((ack.udi, env))
            if progress is not None:
                progress("Verifying the ACK file", number, len(entries))
        if pinned is not None:
            self.store.set_prefs(anchor=pinned.to_bytes().decode())
        self._save_keysets(verifier.chain())
        acked = 0
        policies = 0

        def check(envelope: Envelope, kind: ArtifactType) -> Any:
            if kind is ArtifactType.ACK and id(envelope) in verified:
                return verified[id(envelope)]
            return verifier.verify(envelope, kind, now=now)

        with self.store.tx() as c:
            for number, (udi, env) in enumerate(acks, start=1):
                acked += self._accept_in(c, [env], udi, check)
                if Ack.from_json(verified[id(env)]).policy is not None:
                    policies += 1
                c.execute("DELETE FROM wants WHERE udi = ?", (str(udi),))
                if progress is not None:
                    progress("Importing ACKs", number, len(acks))
            fault("upload_from.mid")
            c.execute(
                "UPDATE bundles SET imported_at = ? WHERE bundle_id = ?",
                (now, manifest.in_reply_to),
            )
        return {
            "file": str(path),
            "in_reply_to": manifest.in_reply_to,
            "acks": len(acks),
            "reports_acked": acked,
            "policies": policies,
            "waiting": self.waiting(),
        }

    # --- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "preferences": self.preferences(),
            "instances": int(self.store.scalar("SELECT COUNT(*) FROM instances")),
            "devices": int(self.store.scalar("SELECT COUNT(*) FROM devices")),
            "reports": int(self.store.scalar("SELECT COUNT(*) FROM reports")),
            "reports_waiting": self.waiting(),
            "acks_undelivered": int(
                self.store.scalar("SELECT COUNT(*) FROM acks WHERE delivered_at IS NULL")
            ),
            "upstream_errors": self.store.counter("upstream_errors"),
        }
