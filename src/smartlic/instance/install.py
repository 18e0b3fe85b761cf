"""Verifying and installing what the authority signs: key sets, ACKs, policies, trust codes,
authorization codes. One path for every carrier (push responses, REST import, files).

Every install is all or nothing (one transaction). A refusal raises the matching ``%SMART_LIC-3``
message with the reason, changes nothing, and re-raises the error for the caller to show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from smartlic.core import deadlines, sysmsg
from smartlic.core.artifacts import Ack, AuthorizationCode, PolicyGrant, TrustCode, payload_digest
from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.errors import (
    AlreadyInstalledError,
    ArtifactTypeError,
    ReplayError,
    RollbackError,
    SmartLicError,
    TimestampMismatchError,
    WrongUdiError,
)
from smartlic.core.timefmt import HOUR, device_time
from smartlic.core.udi import Udi
from smartlic.instance.meter import MeterMixin
from smartlic.instance.store import fault

INSTALL_ORDER = {
    ArtifactType.KEYSET: 0,
    ArtifactType.TRUST_CODE: 1,
    ArtifactType.ACK: 2,
    ArtifactType.POLICY: 3,
    ArtifactType.SLAC: 4,
}
LABEL = {
    ArtifactType.KEYSET: "key set",
    ArtifactType.TRUST_CODE: "trust code",
    ArtifactType.ACK: "ACK",
    ArtifactType.POLICY: "policy",
    ArtifactType.SLAC: "authorization code",
}


@dataclass
class AckOutcome:
    ack_id: str
    acked: list[int] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """Reasons nested artifacts (policy, authorization codes) were refused; the ACK stands."""


class InstallMixin(MeterMixin):
    def _store_artifact(self, kind: str, ref: str, envelope: Envelope) -> None:
        self.store.execute(
            "INSERT INTO artifacts (kind, ref, envelope, installed_at) VALUES (?, ?, ?, ?)",
            (kind, ref, json.dumps(envelope.to_json()), self.clock.now()),
        )

    def _seen(self, kind: str, ref: str) -> bool:
        return bool(
            self.store.scalar("SELECT 1 FROM artifacts WHERE kind = ? AND ref = ?", (kind, ref))
        )

    def _check_udi(self, udi: object, what: str) -> None:
        if udi != self.udi and not self.identity.ha_set.contains(udi):  # type: ignore[arg-type]
            raise WrongUdiError(f"the {what} is for {udi}, not for this product instance")

    # --- dispatch ----------------------------------------------------------------------------

    def install_artifacts(
        self, envelopes: list[Envelope] | tuple[Envelope, ...], *, nonce: str | None = None
    ) -> list[str]:
        """Install every artifact (key sets first); returns labels of what was installed.

        Stops at the first refusal (after its message), leaving earlier installs in place.
        """
        installed: list[str] = []
        for envelope in sorted(envelopes, key=lambda e: INSTALL_ORDER.get(e.type, 9)):
            installed.extend(self.install_artifact(envelope, nonce=nonce))
        return installed

    def install_artifact(self, envelope: Envelope, *, nonce: str | None = None) -> list[str]:
        if envelope.type is ArtifactType.KEYSET:
            return ["key set"] if self.install_keyset([envelope]) else []
        if envelope.type is ArtifactType.ACK:
            return ["ACK", *self.install_ack(envelope).installed]
        if envelope.type is ArtifactType.POLICY:
            self.install_policy(envelope)
            return ["policy"]
        if envelope.type is ArtifactType.TRUST_CODE:
            self.install_trust_code(envelope, nonce=nonce)
            return ["trust code"]
        if envelope.type is ArtifactType.SLAC:
            self.install_authorization(envelope)
            return ["authorization code"]
        raise ArtifactTypeError(
            f"a {envelope.type.value} artifact cannot be installed on a product instance"
        )

    # --- key sets ----------------------------------------------------------------------------

    def install_keyset(self, chain: list[Envelope] | tuple[Envelope, ...]) -> int:
        verifier = self.require_verifier()
        before = list(verifier.history)
        trusted = verifier.trusted
        try:
            accepted = verifier.update(chain)
            with self.store.tx():
                for envelope in verifier.history[len(before) :]:
                    self._store_artifact("keyset", payload_digest(envelope), envelope)
        except BaseException:
            verifier.history[:] = before
            verifier.trusted = trusted
            raise
        if accepted:
            self._event("SAEVT_KEYSET_INSTALL", version=verifier.version)
        return accepted

    # --- ACK ---------------------------------------------------------------------------------

    def install_ack(self, envelope: Envelope) -> AckOutcome:
        now = self.clock.now()
        payload = self.require_verifier().verify(envelope, ArtifactType.ACK, now=now)
        ack = Ack.from_json(payload)
        self._check_udi(ack.udi, "ACK")
        if self._seen("ack", ack.ack_id):
            raise ReplayError(f"ACK {ack.ack_id} is already installed")
        if ack.keysets:
            self.install_keyset(ack.keysets)
        out = AckOutcome(ack.ack_id)
        with self.store.tx():
            reported_until = None
            for index, item in enumerate(ack.acked):
                row = self.store.row(
                    "SELECT state, digest, end_time FROM reports WHERE report_id = ?",
                    (item.report_id,),
                )
                if row is None or row["state"] != "CLOSED" or row["digest"] != item.digest:
                    out.ignored.append(item.report_id)
                    continue
                self.store.execute(
                    "UPDATE reports SET state = 'ACK', acked_at = ?, ack_id = ?, "
                    "reported_at = COALESCE(reported_at, ?) WHERE report_id = ?",
                    (now, ack.ack_id, now, item.report_id),
                )
                out.acked.append(item.report_id)
                end = row["end_time"]
                reported_until = end if reported_until is None else max(reported_until, end)
                if index == 0:
                    fault("ack.mid")
            self._store_artifact("ack", ack.ack_id, envelope)
            self.store.put("account", ack.account.to_json())
            self.store.put("last_ack", {"at": now, "ack_id": ack.ack_id})
            if out.acked:
                state = self.usage_state()
                state = deadlines.acknowledge(state, now, reported_until=reported_until)
                self._save_usage_state(state)
            self._accepted_signed_time(ack.issued_at)
            self._purge()
            fault("ack.end")
        fault("ack.committed")
        self._event("SAEVT_RUM_ACK", ackId=ack.ack_id, acked=len(out.acked))
        # What the ACK carries is installed on its own: a refusal raises its own message and
        # leaves the acknowledgement (already committed) in place.
        if ack.policy is not None and not self._same_policy(ack.policy):
            try:
                self.install_policy(ack.policy)
                out.installed.append("policy")
            except SmartLicError as exc:
                out.failed.append(f"policy: {exc.reason}")
        for slac in ack.slacs:
            if not self._slac_installed(slac):
                try:
                    self.install_authorization(slac)
                    out.installed.append("authorization code")
                except SmartLicError as exc:
                    out.failed.append(f"authorization code: {exc.reason}")
        return out

    # --- policy ------------------------------------------------------------------------------

    def _same_policy(self, envelope: Envelope) -> bool:
        """The installed policy, byte for byte or as the same version (issue time, serial and
        rules) made out to another UDI of the HA set; nothing to install then."""
        found = self._installed("policy")
        if found is None:
            return False
        if found[0].payload == envelope.payload:
            return True
        try:
            offered = PolicyGrant.from_json(envelope.payload_json())
        except SmartLicError:
            return False  # not even a policy: the install says why
        current = PolicyGrant.from_json(found[1])
        return (offered.issued_at, offered.policy) == (current.issued_at, current.policy) and (
            offered.udi is None or self.identity.ha_set.contains(offered.udi)
        )

    def install_policy(self, envelope: Envelope) -> PolicyGrant:
        try:
            now = self.clock.now()
            grant = PolicyGrant.from_json(
                self.require_verifier().verify(envelope, ArtifactType.POLICY, now=now)
            )
            if grant.udi is not None:
                self._check_udi(grant.udi, "policy")
            current = self.policy_grant
            if current is not None:
                if self._same_policy(envelope):
                    raise ReplayError(
                        f"policy {grant.policy.name!r} issued {device_time(grant.issued_at)} "
                        "is already installed"
                    )
                if grant.issued_at < current.issued_at or (
                    grant.issued_at == current.issued_at
                    and grant.policy.serial <= current.policy.serial
                ):
                    raise RollbackError(
                        f"policy issued {device_time(grant.issued_at)} is older than the "
                        f"installed one issued {device_time(current.issued_at)}"
                    )
            with self.store.tx():
                self.store.execute("UPDATE artifacts SET active = 0 WHERE kind = 'policy'")
                fault("policy.mid")
                self._store_artifact("policy", f"{grant.issued_at}:{grant.policy.serial}", envelope)
                self._accepted_signed_time(grant.issued_at)
                self._event("SAEVT_POLICY_INSTALL", name=grant.policy.name or "default")
                fault("policy.end")
        except SmartLicError as exc:
            self._emit("POLICY_INSTALL_FAILED", exc.reason)
            raise
        fault("policy.committed")
        self._emit("POLICY_INSTALL_SUCCESS")
        return grant

    # --- trust code --------------------------------------------------------------------------

    def install_trust_code(
        self,
        envelope: Envelope,
        *,
        nonce: str | None = None,
        force: bool = False,
        check_time: bool = False,
        udi: Udi | None = None,
    ) -> TrustCode:
        """Install a trust code; ``nonce`` is the request it must answer (else any we sent).

        Each UDI of the HA set holds its own trust code; ``udi`` is the one a request was made
        for (the code must be for it), else any UDI of the set.
        """
        failed_on = self.udi if udi is None else udi
        try:
            now = self.clock.now()
            payload = self.require_verifier().verify(envelope, ArtifactType.TRUST_CODE, now=now)
            code = TrustCode.from_json(payload)
            self._check_udi(code.udi, "trust code")
            if udi is not None and code.udi != udi:
                raise WrongUdiError(f"the trust code is for {code.udi}, not for {udi}")
            failed_on = code.udi
            if code.public_key != self.key.public:
                raise WrongUdiError("the trust code binds another instance key")
            if check_time and abs(code.issued_at - now) > HOUR:
                raise TimestampMismatchError(
                    f"{sysmsg.TIMESTAMP_MISMATCH} (instance clock {device_time(now)}, "
                    f"authority {device_time(code.issued_at)})"
                )
            nonces = self.store.get("trust_nonces", [])
            if (nonce is not None and code.request_nonce != nonce) or (
                code.request_nonce not in nonces
            ):
                raise ReplayError("the trust code does not answer a trust request of this instance")
            if self._seen("trust_code", code.request_nonce):
                raise ReplayError("this trust code was already installed")
            if self.trust_code(code.udi) is not None and not force:
                raise AlreadyInstalledError(sysmsg.TRUST_ALREADY_INSTALLED)
            with self.store.tx():
                for old, _, row_id in self._trust_rows():
                    if old.udi == code.udi:
                        self.store.execute(
                            "UPDATE artifacts SET active = 0 WHERE id = ?", (row_id,)
                        )
                self._store_artifact("trust_code", code.request_nonce, envelope)
                self.store.put("account", code.account.to_json())
                self._accepted_signed_time(code.issued_at)
                self._event("SAEVT_TRUST_INSTALL", udi=str(code.udi))
        except SmartLicError as exc:
            self._trust_failed(exc, failed_on)
            raise
        self._emit("TRUST_INSTALL_SUCCESS", str(code.udi))
        return code

    def _trust_failed(self, exc: SmartLicError, udi: Udi | None = None) -> None:
        """The four reasons of the seed excerpt print exactly; others print their own text."""
        reason = sysmsg.TRUST_REASON_BY_ERROR_CODE.get(exc.code, exc.reason)
        self._emit("TRUST_CODE_INSTALL_FAILED", str(self.udi if udi is None else udi), reason)

    # --- authorization codes -----------------------------------------------------------------

    def _slac_installed(self, envelope: Envelope) -> bool:
        return any(
            json.loads(r["envelope"])["payload"] == envelope.payload
            for r in self._artifact_rows("slac")
        )

    def install_authorization(
        self, envelope: Envelope, *, replace: bool = False
    ) -> AuthorizationCode:
        failed_on = self.udi
        try:
            now = self.clock.now()
            code = AuthorizationCode.from_json(
                self.require_verifier().verify(envelope, ArtifactType.SLAC, now=now)
            )
            if not self.identity.ha_set.contains(code.udi):
                raise WrongUdiError(f"the authorization code is for {code.udi}, not {self.udi}")
            failed_on = code.udi
            if self._seen("slac", code.code_id):
                raise ReplayError(f"authorization code {code.code_id} was already installed")
            for item in code.licenses:
                self.catalog.by_tag(item.entitlement_tag)
            with self.store.tx():
                tags = {item.entitlement_tag for item in code.licenses}
                if replace:
                    for old in self.authorization_codes(code.udi):
                        if tags & {i.entitlement_tag for i in old.licenses}:
                            self.store.execute(
                                "UPDATE artifacts SET active = 0 WHERE kind = 'slac' AND ref = ?",
                                (old.code_id,),
                            )
                self._store_artifact("slac", code.code_id, envelope)
                self._accepted_signed_time(code.issued_at)
                self._event("SAEVT_TAG_AUTHORIZED", code=code.confirmation_code)
                self._reauthorize()
        except SmartLicError as exc:
            self._emit("AUTHORIZATION_INSTALL_FAILED", str(failed_on), exc.reason)
            raise
        self._emit("AUTHORIZATION_INSTALL_SUCCESS", str(code.udi))
        return code
