"""Trust requests → node-locked trust codes (docs/protocol.md, "Trust request")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from smartlic.authority import audit
from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.accounts.service import AccountService
from smartlic.authority.context import Authority
from smartlic.authority.policy.service import PolicyService
from smartlic.authority.trust.models import ProductInstance
from smartlic.authority.trust.repository import InstanceRepository, placements
from smartlic.core import xmlfile
from smartlic.core.artifacts import Account, TrustCode, TrustRequest
from smartlic.core.checks import check_clock_skew, check_udi
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import (
    AccountMismatchError,
    FormatError,
    OversizedError,
    SignatureMismatchError,
    TimestampMismatchError,
    TokenError,
)
from smartlic.core.keys import VerifyKey
from smartlic.core.timefmt import HOUR, device_time
from smartlic.core.udi import Udi

MAX_FILE_REQUESTS = 16
"""A trust request file holds one request per UDI of an HA set (at most 16 members)."""


@dataclass(frozen=True)
class TrustResult:
    account_id: str
    va_id: str
    trust_code: Envelope
    policy: Envelope


def read_trust_request(envelope: Envelope) -> TrustRequest:
    """Proof of possession: the request must verify under the public key it carries."""
    envelope.expect(ArtifactType.TRUST_REQUEST)
    if envelope.signature.signing_type not in (SigningType.BUILTIN, SigningType.TRUST):
        raise SignatureMismatchError("a trust request must be signed by the instance key")
    request = TrustRequest.from_json(envelope.payload_json())
    try:
        envelope.verify_with(request.public_key)
    except SignatureMismatchError as exc:
        raise SignatureMismatchError(
            f"proof of possession failed: {exc.reason}",
            hint="The trust request must be signed with the key it names; generate it again.",
        ) from None
    return request


def find_placement(
    session: Session, account_id: str, va_id: str, udi: Udi
) -> ProductInstance | None:
    """Read only: the instance of ``udi`` in this VA, None if unknown; elsewhere → mismatch."""
    found = None
    for other in placements(session, str(udi)):
        if other.account_id != account_id or other.va_id != va_id:
            raise AccountMismatchError(
                f"Smart Account-Virtual Account mismatch: {udi} is registered in another "
                "virtual account"
            )
        found = other
    return found


def place_instance(
    session: Session,
    account_id: str,
    va_id: str,
    udi: Udi,
    now: int,
    hostname: str | None = None,
) -> ProductInstance:
    """Find or register ``udi`` in this VA; elsewhere already → SA-VA mismatch."""
    for other in placements(session, str(udi)):
        if other.account_id != account_id or other.va_id != va_id:
            raise AccountMismatchError(
                f"Smart Account-Virtual Account mismatch: {udi} is registered in another "
                "virtual account"
            )
    repo = InstanceRepository(session, account_id)
    row = repo.by_udi(str(udi), lock=True)
    if row is None:
        row = ProductInstance(
            account_id=account_id,
            va_id=va_id,
            udi=str(udi),
            hostname=hostname,
            first_seen=now,
            trusted=False,
            trust_serial=0,
            allow_export=False,
        )
        repo.add(row)
        session.flush()
    elif hostname:
        row.hostname = hostname
    return row


class TrustService:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.accounts = AccountService(authority)
        self.policies = PolicyService(authority)

    def establish(
        self, session: Session, envelope: Envelope, sender: Udi, actor: str
    ) -> TrustResult:
        now = self.authority.now()
        request = read_trust_request(envelope)
        check_udi(request.udi, sender, "the trust request")
        try:
            check_clock_skew(request.timestamp, now)
        except TimestampMismatchError as exc:
            raise TimestampMismatchError(f"timestamp mismatch: {exc.reason}") from None
        if not request.id_token:
            raise TokenError("the trust request carries no ID token")
        token = self.accounts.use_id_token(session, request.id_token, now)
        token.uses += 1
        trust_env = self._issue(
            session,
            token.account_id,
            token.va_id,
            request,
            now,
            actor=actor,
            allow_export=token.allow_export,
            detail=f"token={token.id}",
        )
        _, policy_env = self.policies.grant(session, token.account_id, token.va_id, request.udi)
        return TrustResult(token.account_id, token.va_id, trust_env, policy_env)

    def _issue(
        self,
        session: Session,
        account_id: str,
        va_id: str,
        request: TrustRequest,
        now: int,
        *,
        actor: str,
        allow_export: bool,
        detail: str,
    ) -> Envelope:
        """Place the instance (SA-VA mismatch if it lives elsewhere), bind its key, sign."""
        instance = place_instance(session, account_id, va_id, request.udi, now, request.hostname)
        instance.trusted = True
        instance.public_key = request.public_key.b64()
        instance.trust_serial += 1
        instance.trust_issued_at = now
        instance.allow_export = instance.allow_export or allow_export
        accounts = AccountRepository(session, account_id)
        account = Account(accounts.account().name, accounts.va(va_id).name)
        code = TrustCode(
            request.udi, request.public_key, account, now, instance.trust_serial, request.nonce
        )
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="trust_code.issue",
            subject=str(request.udi),
            detail=f"serial={instance.trust_serial} {detail}",
        )
        return sign(
            ArtifactType.TRUST_CODE, code.to_json(), self.authority.signer(), SigningType.AUTHORITY
        )

    def issue_file(
        self,
        session: Session,
        account_id: str,
        va_id: str,
        envelopes: list[Envelope],
        *,
        actor: str,
        upload: str = "",
    ) -> bytes:
        """A ``license smart save trust-request`` file in, a trust-code file out (the air gap).

        The file carries no ID token: whoever uploads it, inside their virtual account, vouches
        for it, so the token checks give way to that scope. Every other refusal of the online
        path stands, and the file is all or nothing. Offline, only a request dated more than
        one hour *ahead* of the authority is a timestamp mismatch: an older one is the normal
        delay of carrying a file across the air gap (docs/authority.md, "Trust across the air
        gap"). The answer holds the key-set chain (ADR 0006), one trust code per request, and
        the policy in force for the first UDI, for ``license smart import``.
        """
        now = self.authority.now()
        if not envelopes:
            raise FormatError("the trust request file holds no trust request")
        if len(envelopes) > MAX_FILE_REQUESTS:
            raise OversizedError(
                f"the trust request file holds {len(envelopes)} requests; at most "
                f"{MAX_FILE_REQUESTS} (one per UDI of an HA set) are accepted"
            )
        requests = [read_trust_request(envelope) for envelope in envelopes]
        seen: set[Udi] = set()
        for request in requests:
            if request.udi in seen:
                raise FormatError(f"the trust request file holds two requests for {request.udi}")
            seen.add(request.udi)
            if request.timestamp - now > HOUR:
                raise TimestampMismatchError(
                    f"timestamp mismatch: the trust request of {request.udi} is dated "
                    f"{device_time(request.timestamp)}, more than one hour after the authority "
                    f"time {device_time(now)}",
                    hint="Set the product instance's clock (ntp server ...), then save a new "
                    "trust request with `license smart save trust-request` and upload it.",
                )
            find_placement(session, account_id, va_id, request.udi)  # refuse before any write
        # No token can allow export-controlled use here: the virtual account's own setting
        # (checked when an authorization code is issued) is what applies.
        codes = [
            self._issue(
                session,
                account_id,
                va_id,
                request,
                now,
                actor=actor,
                allow_export=False,
                detail=f"file upload={upload}" if upload else "file",
            )
            for request in requests
        ]
        _, policy_env = self.policies.grant(session, account_id, va_id, requests[0].udi)
        return xmlfile.write([*self.authority.chain(), *codes, policy_env])


def trust_key(instance: ProductInstance | None) -> VerifyKey | None:
    if instance is None or not instance.trusted or instance.public_key is None:
        return None
    return VerifyKey.from_b64(instance.public_key)
