"""Talking to the utility or authority: sync, the push schedule, polls, trust and SLAC requests.

Communication failures raise ``%SMART_LIC-3-COMM_FAILED`` (peer, reason) and keep every report;
the next success raises ``%SMART_LIC-5-COMM_RESTORED``. Reports are identified by id and digest,
so re-sending after a failure never counts anything twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartlic.core import deadlines, sysmsg, xmlfile
from smartlic.core.artifacts import AuthorizationCode, ReturnCode, TrustRequest
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import (
    AlreadyInstalledError,
    CommunicationError,
    ConfigurationError,
    NotFoundError,
    SmartLicError,
    error_from_code,
)
from smartlic.core.protocol import MAX_REPORTS_PER_MESSAGE, InstanceState, Kind, Request, Response
from smartlic.core.protocol import Status as ReplyStatus
from smartlic.core.timefmt import DAY, HOUR
from smartlic.instance.install import INSTALL_ORDER, InstallMixin
from smartlic.instance.store import atomic_write
from smartlic.instance.transport import HttpTransport, Transport

COMM_RETRY = 4 * HOUR
"""After a failed push, the next attempt (the policy-driven schedule resumes after a success)."""


@dataclass(frozen=True)
class SyncResult:
    """What one exchange did: ``OK`` (with what was installed), ``OK_POLL`` or ``ERROR``."""

    status: str
    sent_reports: int = 0
    acked: int = 0
    installed: tuple[str, ...] = ()
    poll_at: int | None = None
    failed: tuple[str, ...] = ()
    """Artifacts of the response that were refused (each raised its own message)."""


class ReportingMixin(InstallMixin):
    transport_override: Transport | None = None

    # --- transport ---------------------------------------------------------------------------

    def peer_name(self) -> str:
        return sysmsg.PEER_CSSM if self.config.transport == "smart" else sysmsg.PEER_CSLU

    def transport(self) -> Transport:
        if self.transport_override is not None:
            return self.transport_override
        config = self.config
        if config.transport == "off":
            raise ConfigurationError(
                "transport is off: use license smart save usage / import, or set a transport"
            )
        url = config.smart_url if config.transport == "smart" else config.cslu_url
        return HttpTransport(url, self.peer_name(), self.http_client, proxy=config.proxy)

    def instance_state(self) -> InstanceState:
        grant = self.policy_grant
        verifier = self.verifier
        return InstanceState(
            policy_issued_at=None if grant is None else grant.issued_at,
            keyset_version=0 if verifier is None else verifier.version,
            trust_installed=self.trust_code() is not None,
            slac_code_ids=tuple(c.code_id for c in self.authorization_codes()),
        )

    def _request(self, kind: Kind, **fields: Any) -> Request:
        return Request(
            kind=kind,
            message_id=secrets.token_hex(16),
            sent_at=self.clock.now(),
            udi=self.udi,
            ha=self.identity.ha_set,
            state=self.instance_state(),
            hostname=None if self.config.privacy_hostname else self.identity.hostname,
            **fields,
        )

    def _exchange(self, operation: str, request: Request) -> Response:
        transport = self.transport()
        body = request.to_bytes().decode()
        try:
            response = transport.exchange(request)
        except CommunicationError as exc:
            self._record_exchange(operation, body, f"COMM_FAILED: {exc.reason}", ok=False)
            self.store.put("comm_failed", {"peer": exc.peer, "at": self.clock.now()})
            self._emit("COMM_FAILED", exc.peer, exc.reason)
            self._event("SAEVT_COMM_FAIL", peer=exc.peer, reason=exc.reason)
            raise
        self._record_exchange(operation, body, response.to_bytes().decode(), ok=True)
        if self.store.get("comm_failed") is not None:
            self.store.delete("comm_failed")
            self._emit("COMM_RESTORED", transport.peer)
            self._event("SAEVT_COMM_RESTORED", peer=transport.peer)
        return response

    # --- usage reporting ---------------------------------------------------------------------

    def sync(self, scope: str = "all") -> SyncResult:
        """``license smart sync all|local``: report usage and fetch what is missing."""
        if scope not in ("all", "local"):
            raise ConfigurationError(f"sync scope must be all or local, not {scope!r}")
        self.transport()  # refuse early when the transport is off
        self.close_reports()
        pending = self.unacked_reports()[:MAX_REPORTS_PER_MESSAGE]
        now = self.clock.now()
        if pending:
            request = self._request(Kind.USAGE_REPORT, reports=tuple(e for _, e in pending))
        else:
            request = self._request(Kind.HELLO)
        try:
            response = self._exchange("usage" if pending else "hello", request)
        except CommunicationError:
            self.store.put("push_retry_at", now + COMM_RETRY)
            raise
        self.store.delete("push_retry_at")
        self._mark_reported([report_id for report_id, _ in pending])
        self.store.put("last_push_at", now)
        self._event("SAEVT_RUM_REPORT_SEND", count=len(pending))
        return self._handle(response, "usage", len(pending))

    def _handle(
        self, response: Response, operation: str, sent: int = 0, *, nonce: str | None = None
    ) -> SyncResult:
        if response.status is ReplyStatus.OK_POLL:
            poll_at = self.clock.now() + max(response.retry_after or 60, 1)
            self.store.put(
                "pending_poll",
                {
                    "poll_id": response.poll_id,
                    "at": poll_at,
                    "operation": operation,
                    "nonce": nonce,
                },
            )
            return SyncResult("OK_POLL", sent, poll_at=poll_at)
        self.store.delete("pending_poll")
        if response.status is ReplyStatus.ERROR:
            raise error_from_code(response.error_code or "ERROR", response.error_message or "")
        before = self.usage_summary().acknowledged
        installed, failed = self._install_reply(response.artifacts, nonce)
        acked = self.usage_summary().acknowledged - before
        return SyncResult("OK", sent, acked, tuple(installed), failed=tuple(failed))

    def _install_reply(
        self, envelopes: tuple[Envelope, ...], nonce: str | None
    ) -> tuple[list[str], list[str]]:
        """Install each artifact of a response on its own; a refusal does not stop the rest."""
        installed: list[str] = []
        failed: list[str] = []
        for envelope in sorted(envelopes, key=lambda e: INSTALL_ORDER.get(e.type, 9)):
            try:
                if envelope.type is ArtifactType.ACK:
                    outcome = self.install_ack(envelope)
                    installed.extend(["ACK", *outcome.installed])
                    failed.extend(outcome.failed)
                elif envelope.type is ArtifactType.POLICY and self._same_policy(envelope):
                    continue
                else:
                    installed.extend(self.install_artifact(envelope, nonce=nonce))
            except SmartLicError as exc:
                failed.append(f"{envelope.type.value}: {exc.reason}")
        return installed, failed

    def poll(self) -> SyncResult | None:
        """Send the pending ``result_poll`` (after an ``OK_POLL``), if any."""
        pending = self.store.get("pending_poll")
        if pending is None:
            return None
        request = self._request(Kind.RESULT_POLL, poll_id=pending["poll_id"])
        try:
            response = self._exchange("poll", request)
        except CommunicationError:
            self.store.put("pending_poll", {**pending, "at": self.clock.now() + HOUR})
            raise
        if pending["operation"] == "trust":
            return self._handle_trust(response, pending.get("nonce"), force=True)
        return self._handle(response, pending["operation"])

    # --- schedule ----------------------------------------------------------------------------

    def deadlines(self) -> deadlines.Deadlines:
        return deadlines.compute(self.usage_state(), self.clock.now())

    def next_report_push(self) -> int | None:
        if self.config.transport == "off":
            return None
        now = self.clock.now()
        retry = self.store.get("push_retry_at")
        if retry is not None:
            return int(max(retry, now))
        due = self.deadlines().next_ack_deadline
        return deadlines.next_push(
            self.store.get("last_push_at"),
            self.config.usage_interval_days,
            due,
            now,
            started_at=self.store.get("started_at"),
        )

    def tick(self) -> list[str]:
        """Run what is due now: alerts, polls, the scheduled push. Returns what it did."""
        done: list[str] = []
        now = self.clock.now()
        self._check_clock()
        result = self.deadlines()
        last = self.store.get("alerts_checked_at")
        for alert in result.alerts(last, now):
            self._emit("REPORTING_REQUIRED", alert.days)
            done.append(f"REPORTING_REQUIRED {alert.days}")
        self.store.put("alerts_checked_at", now)
        pending = self.store.get("pending_poll")
        if pending is not None and pending["at"] <= now:
            try:
                self.poll()
                done.append("poll")
            except SmartLicError as exc:
                done.append(f"poll failed: {exc.reason}")
        due = self.next_report_push()
        if due is not None and due <= now and self.store.get("pending_poll") is None:
            try:
                self.sync()
                done.append("push")
            except SmartLicError as exc:
                done.append(f"push failed: {exc.reason}")
        return done

    def next_wakeup(self) -> int:
        """When ``tick`` next has something to do (at most a day away)."""
        now = self.clock.now()
        candidates = [now + DAY]
        push = self.next_report_push()
        if push is not None:
            candidates.append(push)
        pending = self.store.get("pending_poll")
        if pending is not None:
            candidates.append(pending["at"])
        result = self.deadlines()
        if result.next_ack_deadline is not None:
            for offset in deadlines.ALERT_OFFSETS_DAYS:
                point = result.next_ack_deadline - offset * DAY
                if point > now:
                    candidates.append(point)
        return max(min(candidates), now + 1)

    # --- trust -------------------------------------------------------------------------------

    def _trust_request(self, token: str | None, force: bool) -> tuple[Envelope, str]:
        nonce = secrets.token_hex(16)
        nonces = self.store.get("trust_nonces", [])
        self.store.put("trust_nonces", [*nonces[-31:], nonce])
        request = TrustRequest(
            udi=self.udi,
            ha=self.identity.ha_set,
            public_key=self.key.public,
            timestamp=self.clock.now(),
            nonce=nonce,
            id_token=token,
            hostname=self.identity.hostname,
            force=force,
        )
        envelope = sign(
            ArtifactType.TRUST_REQUEST,
            request.to_json(),
            self.key,
            SigningType.BUILTIN,
            sudi=self.udi,
        )
        return envelope, nonce

    def trust_idtoken(self, token: str, scope: str = "local", force: bool = False) -> SyncResult:
        """``license smart trust idtoken <token> local|all [force]``."""
        if scope not in ("local", "all"):
            raise ConfigurationError(f"scope must be local or all, not {scope!r}")
        if self.trust_code() is not None and not force:
            error = AlreadyInstalledError(sysmsg.TRUST_ALREADY_INSTALLED)
            self._trust_failed(error)
            raise error
        envelope, nonce = self._trust_request(token, force)
        response = self._exchange("trust", self._request(Kind.TRUST_REQUEST, artifact=envelope))
        return self._handle_trust(response, nonce, force)

    def _handle_trust(self, response: Response, nonce: str | None, force: bool) -> SyncResult:
        if response.status is ReplyStatus.ERROR:
            error = error_from_code(response.error_code or "ERROR", response.error_message or "")
            self._trust_failed(error)
            raise error
        if response.status is ReplyStatus.OK_POLL:
            return self._handle(response, "trust", nonce=nonce)
        self.store.delete("pending_poll")
        installed: list[str] = []
        ordered = sorted(response.artifacts, key=lambda e: e.type is ArtifactType.POLICY)
        for envelope in ordered:
            if envelope.type is ArtifactType.TRUST_CODE:
                self.install_trust_code(envelope, nonce=nonce, force=force, check_time=True)
                installed.append("trust code")
            elif envelope.type is ArtifactType.POLICY and self._same_policy(envelope):
                continue
            else:
                installed.extend(self.install_artifact(envelope))
        return SyncResult("OK", installed=tuple(installed))

    def save_trust_request(self, path: str) -> None:
        """``license smart save trust-request <file>`` for the air gap."""
        envelope, _ = self._trust_request(None, force=False)
        atomic_write(Path(path), xmlfile.write([envelope]))
        self._event("SAEVT_TRUST_REQUEST_SAVED", file=str(path))

    # --- authorization codes -----------------------------------------------------------------

    def authorization_request(
        self, mode: str, feature: str, scope: str = "local", count: int | None = None
    ) -> AuthorizationCode:
        """``license smart authorization request add|replace <feature> local|all``."""
        lic = self.catalog.get(feature)
        if count is None:
            row = self.store.row("SELECT count FROM usage WHERE license = ?", (lic.name,))
            count = 1 if row is None else max(1, row["count"])
        request = self._request(
            Kind.AUTHORIZATION_REQUEST, mode=mode, feature=lic.name, count=count, scope=scope
        )
        response = self._exchange("authorization", request)
        if response.status is not ReplyStatus.OK:
            error = (
                error_from_code(response.error_code or "ERROR", response.error_message or "")
                if response.status is ReplyStatus.ERROR
                else SmartLicError("the authorization request is pending; sync later")
            )
            self._emit("AUTHORIZATION_INSTALL_FAILED", str(self.udi), error.reason)
            raise error
        codes = [e for e in response.artifacts if e.type is ArtifactType.SLAC]
        if not codes:
            raise NotFoundError("the response holds no authorization code")
        others = [e for e in response.artifacts if e.type is not ArtifactType.SLAC]
        self.install_artifacts(others)
        code = None
        for envelope in codes:
            code = self.install_authorization(envelope, replace=mode == "replace")
        assert code is not None
        return code

    def authorization_return(
        self, scope: str = "local", mode: str = "online", path: str | None = None
    ) -> list[Envelope]:
        """``license smart authorization return local|all online|offline [file]``."""
        if mode not in ("online", "offline"):
            raise ConfigurationError(f"mode must be online or offline, not {mode!r}")
        codes = self.authorization_codes()
        if not codes:
            raise NotFoundError("no authorization code is installed")
        signing = SigningType.TRUST if self.trust_code() is not None else SigningType.BUILTIN
        returns = []
        for code in codes:
            ret = ReturnCode(
                code.code_id, self.udi, code.confirmation_code, self.clock.now(), self.key.public
            )
            envelope = sign(
                ArtifactType.RETURN_CODE, ret.to_json(), self.key, signing, sudi=self.udi
            )
            if mode == "online":
                reply = self._exchange(
                    "authorization_return",
                    self._request(Kind.AUTHORIZATION_RETURN, artifact=envelope),
                )
                reply.raise_for_error()
            returns.append(envelope)
            with self.store.tx():
                self.store.execute(
                    "UPDATE artifacts SET active = 0 WHERE kind = 'slac' AND ref = ?",
                    (code.code_id,),
                )
                self.store.execute(
                    "INSERT INTO artifacts (kind, ref, envelope, installed_at, active) "
                    "VALUES ('return_code', ?, ?, ?, 1)",
                    (code.code_id, envelope.to_bytes().decode(), self.clock.now()),
                )
                self._reauthorize()
            self._emit("AUTHORIZATION_REMOVED", str(self.udi))
            self._event("SAEVT_TAG_RETURNED", code=code.confirmation_code)
        if path is not None:
            atomic_write(Path(path), xmlfile.write(returns))
        return returns
