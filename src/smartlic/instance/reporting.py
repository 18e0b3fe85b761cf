"""Talking to the utility or authority: sync, the push schedule, polls, trust and SLAC requests.

Communication failures raise ``%SMART_LIC-3-COMM_FAILED`` (peer, reason) and keep every report;
the next success raises ``%SMART_LIC-5-COMM_RESTORED``. Reports are identified by id and digest,
so re-sending after a failure never counts anything twice.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smartlic.core import deadlines, sysmsg, xmlfile
from smartlic.core.artifacts import AuthorizationCode, ReturnCode, TrustRequest
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import (
    AlreadyInstalledError,
    CommunicationError,
    ConfigurationError,
    InstallError,
    NotFoundError,
    SmartLicError,
    error_from_code,
)
from smartlic.core.protocol import MAX_REPORTS_PER_MESSAGE, InstanceState, Kind, Request, Response
from smartlic.core.protocol import Status as ReplyStatus
from smartlic.core.timefmt import DAY, HOUR
from smartlic.core.udi import Udi
from smartlic.instance.install import INSTALL_ORDER, InstallMixin
from smartlic.instance.store import atomic_write, fault
from smartlic.instance.transport import HttpTransport, Transport

COMM_RETRY = 4 * HOUR
"""After a failed push, the next attempt (the policy-driven schedule resumes after a success)."""
PENDING_RETURNS_KEY = "pending_returns"
_TRUST_FIRST = (ArtifactType.KEYSET, ArtifactType.TRUST_CODE)


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
        smart = self.config.effective_transport() == "smart"
        return sysmsg.PEER_CSSM if smart else sysmsg.PEER_CSLU

    def transport(self) -> Transport:
        if self.transport_override is not None:
            return self.transport_override
        config = self.config
        url = config.endpoint_url()
        if url is None:
            raise ConfigurationError(
                "transport is off: use license smart save usage / import, or set a transport"
            )
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

    def _request(self, kind: Kind, *, udi: Udi | None = None, **fields: Any) -> Request:
        """A request from this instance; ``udi`` sends it for another UDI of the HA set."""
        return Request(
            kind=kind,
            message_id=secrets.token_hex(16),
            sent_at=self.clock.now(),
            udi=self.udi if udi is None else udi,
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
        """``license smart sync all|local``: report usage and fetch what is missing.

        Only the Active reports usage. With ``all``, each other UDI of the HA set that holds a
        trust code (so the authority knows it) also says ``hello`` and installs what the
        authority holds for it (its authorization codes); a member's failure is listed in
        ``SyncResult.failed`` (``<udi>: <reason>``) and does not fail the sync.
        """
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
        result = self._handle(response, "usage", len(pending))
        if scope == "all" and self.identity.ha is not None:
            installed, failed = self._sync_members()
            result = replace(
                result,
                installed=result.installed + tuple(installed),
                failed=result.failed + tuple(failed),
            )
        return result

    def _sync_members(self) -> tuple[list[str], list[str]]:
        installed: list[str] = []
        failed: list[str] = []
        for udi in self.identity.ha_set.udis[1:]:
            if self.trust_code(udi) is None:
                continue
            try:
                response = self._exchange("hello", self._request(Kind.HELLO, udi=udi))
                response.raise_for_error()
            except SmartLicError as exc:
                failed.append(f"{udi}: {exc.reason}")
                continue
            more, refused = self._install_reply(response.artifacts, None)
            installed.extend(more)
            failed.extend(f"{udi}: {reason}" for reason in refused)
        return installed, failed

    def _handle(
        self,
        response: Response,
        operation: str,
        sent: int = 0,
        *,
        nonce: str | None = None,
        udi: Udi | None = None,
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
                    "udi": None if udi is None else str(udi),
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
        udi = Udi.parse(pending["udi"]) if pending.get("udi") else None
        request = self._request(Kind.RESULT_POLL, poll_id=pending["poll_id"], udi=udi)
        try:
            response = self._exchange("poll", request)
        except CommunicationError:
            self.store.put("pending_poll", {**pending, "at": self.clock.now() + HOUR})
            raise
        if pending["operation"] == "trust":
            return self._handle_trust(response, pending.get("nonce"), force=True, udi=udi)
        return self._handle(response, pending["operation"])

    # --- schedule ----------------------------------------------------------------------------

    def deadlines(self) -> deadlines.Deadlines:
        return deadlines.compute(self.usage_state(), self.clock.now())

    def next_report_push(self) -> int | None:
        if self.config.effective_transport() == "off":
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

    def _scope_udis(self, scope: str) -> list[Udi]:
        """``local``: the Active UDI; ``all``: every UDI of the HA set (Active first)."""
        if scope not in ("local", "all"):
            raise ConfigurationError(f"scope must be local or all, not {scope!r}")
        return [self.udi] if scope == "local" else list(self.identity.ha_set.udis)

    def _trust_request(
        self, token: str | None, force: bool, udi: Udi | None = None
    ) -> tuple[Envelope, str]:
        """A trust request for ``udi`` (default the Active), signed with the instance key."""
        target = self.udi if udi is None else udi
        nonce = secrets.token_hex(16)
        nonces = self.store.get("trust_nonces", [])
        self.store.put("trust_nonces", [*nonces[-31:], nonce])
        request = TrustRequest(
            udi=target,
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
            sudi=target,
        )
        return envelope, nonce

    def trust_idtoken(self, token: str, scope: str = "local", force: bool = False) -> SyncResult:
        """``license smart trust idtoken <token> local|all [force]``.

        ``all`` sends one trust request per UDI of the HA set (the authority checks each on its
        own) and installs each trust code. A UDI that fails raises its own
        ``TRUST_CODE_INSTALL_FAILED`` and is listed in ``SyncResult.failed`` while the others go
        on; the first error is raised only when no UDI got a trust code. A communication failure
        stops at once (the transport is down for every UDI).
        """
        udis = self._scope_udis(scope)
        installed: list[str] = []
        failed: list[str] = []
        first: SmartLicError | None = None
        poll_at = None
        for udi in udis:
            try:
                result = self._trust_one(token, udi, force)
            except CommunicationError:
                raise
            except SmartLicError as exc:
                if scope == "local":
                    raise
                first = first or exc
                reason = sysmsg.TRUST_REASON_BY_ERROR_CODE.get(exc.code, exc.reason)
                failed.append(f"{udi}: {reason}")
                continue
            installed.extend(result.installed)
            failed.extend(f"{udi}: {item}" for item in result.failed)
            poll_at = result.poll_at if result.poll_at is not None else poll_at
        if first is not None and not installed and poll_at is None:
            raise first
        status = "OK_POLL" if poll_at is not None and not installed else "OK"
        return SyncResult(status, installed=tuple(installed), poll_at=poll_at, failed=tuple(failed))

    def _trust_one(self, token: str, udi: Udi, force: bool) -> SyncResult:
        if self.trust_code(udi) is not None and not force:
            error = AlreadyInstalledError(sysmsg.TRUST_ALREADY_INSTALLED)
            self._trust_failed(error, udi)
            raise error
        envelope, nonce = self._trust_request(token, force, udi)
        request = self._request(Kind.TRUST_REQUEST, artifact=envelope, udi=udi)
        response = self._exchange("trust", request)
        return self._handle_trust(response, nonce, force, udi)

    def _handle_trust(
        self, response: Response, nonce: str | None, force: bool, udi: Udi | None = None
    ) -> SyncResult:
        if response.status is ReplyStatus.ERROR:
            error = error_from_code(response.error_code or "ERROR", response.error_message or "")
            self._trust_failed(error, udi)
            raise error
        if response.status is ReplyStatus.OK_POLL:
            return self._handle(response, "trust", nonce=nonce, udi=udi)
        self.store.delete("pending_poll")
        # Key sets first (the trust code may be signed by a newer key), then the trust code,
        # which must install; what rides along (the policy) is installed on its own.
        keysets = [e for e in response.artifacts if e.type is ArtifactType.KEYSET]
        codes = [e for e in response.artifacts if e.type is ArtifactType.TRUST_CODE]
        rest = [e for e in response.artifacts if e.type not in _TRUST_FIRST]
        installed, failed = self._install_reply(tuple(keysets), nonce)
        if not codes:
            error = NotFoundError("the response holds no trust code")
            self._trust_failed(error, udi)
            raise error
        for envelope in codes:
            self.install_trust_code(envelope, nonce=nonce, force=force, check_time=True, udi=udi)
            installed.append("trust code")
        more, failed_more = self._install_reply(tuple(rest), nonce)
        return SyncResult(
            "OK", installed=tuple(installed + more), failed=tuple(failed + failed_more)
        )

    def save_trust_request(self, path: str | Path, scope: str = "local") -> None:
        """``license smart save trust-request <file>`` for the air gap (``all``: one request per
        UDI of the HA set, in one file)."""
        envelopes = [self._trust_request(None, False, udi)[0] for udi in self._scope_udis(scope)]
        atomic_write(Path(path), xmlfile.write(envelopes))
        self._event("SAEVT_TRUST_REQUEST_SAVED", file=str(path))

    # --- authorization codes -----------------------------------------------------------------

    def authorization_request(
        self, mode: str, feature: str, scope: str = "local", count: int | None = None
    ) -> AuthorizationCode:
        """``license smart authorization request add|replace <feature> local|all``.

        ``all`` requests and installs one code per UDI of the HA set (each UDI's failure raises
        its own ``AUTHORIZATION_INSTALL_FAILED``; the codes obtained stay installed and the first
        error is raised after every UDI was tried). Returns the Active UDI's code.
        """
        if mode not in ("add", "replace"):
            raise ConfigurationError(f"mode must be add or replace, not {mode!r}")
        udis = self._scope_udis(scope)
        lic = self.catalog.get(feature)
        if count is None:
            row = self.store.row("SELECT count FROM usage WHERE license = ?", (lic.name,))
            count = 1 if row is None else max(1, row["count"])
        codes: list[AuthorizationCode] = []
        first: SmartLicError | None = None
        for udi in udis:
            try:
                codes.append(self._authorization_one(mode, lic.name, scope, count, udi))
            except CommunicationError:
                raise
            except SmartLicError as exc:
                if scope == "local":
                    raise
                first = first or exc
        if first is not None:
            raise first
        return codes[0]

    def _authorization_one(
        self, mode: str, feature: str, scope: str, count: int, udi: Udi
    ) -> AuthorizationCode:
        request = self._request(
            Kind.AUTHORIZATION_REQUEST,
            mode=mode,
            feature=feature,
            count=count,
            scope=scope,
            udi=udi,
        )
        response = self._exchange("authorization", request)
        if response.status is not ReplyStatus.OK:
            error = (
                error_from_code(response.error_code or "ERROR", response.error_message or "")
                if response.status is ReplyStatus.ERROR
                else SmartLicError("the authorization request is pending; sync later")
            )
            self._emit("AUTHORIZATION_INSTALL_FAILED", str(udi), error.reason)
            raise error
        codes = [e for e in response.artifacts if e.type is ArtifactType.SLAC]
        if not codes:
            error = NotFoundError("the response holds no authorization code")
            self._emit("AUTHORIZATION_INSTALL_FAILED", str(udi), error.reason)
            raise error
        others = [e for e in response.artifacts if e.type is not ArtifactType.SLAC]
        self.install_artifacts(others)
        code = None
        for envelope in codes:
            code = self.install_authorization(envelope, replace=mode == "replace")
        assert code is not None
        return code

    def pending_returns(self) -> dict[str, Envelope]:
        """Online returns sent but not confirmed (a failure or crash in between): code id →
        the signed return code, which the next ``authorization_return`` sends again."""
        raw = self.store.get(PENDING_RETURNS_KEY, {})
        return {code_id: Envelope.from_json(env) for code_id, env in raw.items()}

    def _return_code(self, code: AuthorizationCode) -> Envelope:
        pending = self.pending_returns().get(code.code_id)
        if pending is not None:
            return pending
        signing = (
            SigningType.TRUST if self.trust_code(code.udi) is not None else SigningType.BUILTIN
        )
        ret = ReturnCode(
            code.code_id, code.udi, code.confirmation_code, self.clock.now(), self.key.public
        )
        return sign(ArtifactType.RETURN_CODE, ret.to_json(), self.key, signing, sudi=code.udi)

    def _set_pending_return(self, code_id: str, envelope: Envelope | None) -> None:
        raw = dict(self.store.get(PENDING_RETURNS_KEY, {}))
        if envelope is None:
            raw.pop(code_id, None)
        else:
            raw[code_id] = envelope.to_json()
        self.store.put(PENDING_RETURNS_KEY, raw)

    def authorization_return(
        self, scope: str = "local", mode: str = "online", path: str | None = None
    ) -> list[Envelope]:
        """``license smart authorization return local|all online|offline [file]``.

        Each code is returned on its own and is either still installed or removed, never half:
        online, the signed return code is recorded as pending before it is sent and the code is
        removed in one transaction once the authority confirmed. A failure midway raises after
        leaving the codes already confirmed removed and the rest installed; after a crash
        between the authority's confirmation and the removal, the code is still installed with
        its return pending, and the next return sends the same return code again (an authority
        answering "already returned" to it confirms it).
        """
        if mode not in ("online", "offline"):
            raise ConfigurationError(f"mode must be online or offline, not {mode!r}")
        udis = self._scope_udis(scope)
        codes = [c for c in self.authorization_codes() if c.udi in udis]
        if not codes:
            raise NotFoundError("no authorization code is installed")
        returns = []
        for code in codes:
            resent = code.code_id in self.pending_returns()
            envelope = self._return_code(code)
            if mode == "online":
                self._return_online(code, envelope, resent)
            returns.append(envelope)
            with self.store.tx():
                self.store.execute(
                    "UPDATE artifacts SET active = 0 WHERE kind = 'slac' AND ref = ?",
                    (code.code_id,),
                )
                fault("return.mid")
                self.store.execute(
                    "INSERT INTO artifacts (kind, ref, envelope, installed_at, active) "
                    "VALUES ('return_code', ?, ?, ?, 1) ON CONFLICT (kind, ref) DO NOTHING",
                    (code.code_id, json.dumps(envelope.to_json()), self.clock.now()),
                )
                self._set_pending_return(code.code_id, None)
                self._reauthorize()
                self._event("SAEVT_TAG_RETURNED", code=code.confirmation_code, mode=mode)
            fault("return.committed")
            self._emit("AUTHORIZATION_REMOVED", str(code.udi))
        if path is not None:
            atomic_write(Path(path), xmlfile.write(returns))
        return returns

    def _return_online(self, code: AuthorizationCode, envelope: Envelope, resent: bool) -> None:
        self._set_pending_return(code.code_id, envelope)
        request = self._request(Kind.AUTHORIZATION_RETURN, artifact=envelope, udi=code.udi)
        try:
            self._exchange("authorization_return", request).raise_for_error()
        except CommunicationError:
            raise  # unknown outcome: the return stays pending and is sent again next time
        except SmartLicError as exc:
            if resent and exc.code == InstallError.code and "already returned" in exc.reason:
                return  # our earlier send of this same return code reached the authority
            self._set_pending_return(code.code_id, None)  # refused: nothing was returned
            self._event("SAEVT_TAG_RETURN_FAILED", code=code.confirmation_code, reason=exc.reason)
            raise
        fault("return.confirmed")
