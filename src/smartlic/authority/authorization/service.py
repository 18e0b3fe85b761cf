"""Issue authorization codes within purchased counts; take them back with a return code."""

from __future__ import annotations

import secrets

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from smartlic.authority import audit
from smartlic.authority.accounts.models import Purchase, VirtualAccount
from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.authorization.models import IssuedCode
from smartlic.authority.authorization.repository import CodeRepository
from smartlic.authority.context import Authority
from smartlic.authority.trust.repository import InstanceRepository
from smartlic.authority.trust.service import place_instance
from smartlic.core.artifacts import Account, AuthorizationCode, AuthorizedLicense, ReturnCode
from smartlic.core.catalog import EnforcementType
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import (
    CountExceededError,
    FormatError,
    InstallError,
    SignatureMismatchError,
    WrongUdiError,
)
from smartlic.core.keys import VerifyKey
from smartlic.core.udi import Udi


def purchased_count(
    session: Session, account_id: str, va_id: str, license_name: str, now: int
) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Purchase.count), 0)).where(
            Purchase.account_id == account_id,
            Purchase.va_id == va_id,
            Purchase.license_name == license_name,
            Purchase.start_at <= now,
            or_(Purchase.end_at.is_(None), Purchase.end_at > now),
        )
    )
    return int(total or 0)


class AuthorizationService:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority

    def issue(
        self,
        session: Session,
        account_id: str,
        va_id: str,
        udi: Udi,
        license_name: str,
        count: int = 1,
        *,
        replace: bool = False,
        token_allows_export: bool = False,
        actor: str = "cli",
    ) -> Envelope:
        lic = self.authority.catalog.get(license_name)
        if not lic.needs_authorization:
            raise FormatError(
                f"license {lic.name} is unenforced: it needs no authorization code",
                hint="Authorization codes are only for enforced and export-controlled licenses.",
            )
        if not 1 <= count <= 1_000_000:
            raise FormatError("count must be within 1..1000000")
        now = self.authority.now()
        accounts = AccountRepository(session, account_id)
        va = accounts.va(va_id)
        # Serialise issuance per virtual account (a no-op on SQLite, which locks the database).
        session.execute(
            select(VirtualAccount.id).where(VirtualAccount.id == va.id).with_for_update()
        )
        instance = place_instance(session, account_id, va.id, udi, now)
        if lic.enforcement is EnforcementType.EXPORT_CONTROLLED and not (
            va.allow_export or instance.allow_export or token_allows_export
        ):
            raise InstallError(
                f"export-controlled license {lic.name} is not allowed for virtual account "
                f"{va.name}",
                hint="Use an ID token that allows export-controlled functionality, or have the "
                "account enabled for it.",
            )
        codes = CodeRepository(session, account_id)
        if replace:
            for old in codes.active_for_udi(str(udi), lic.name):
                old.returned_at = now
            session.flush()
        available = purchased_count(session, account_id, va.id, lic.name, now) - (
            codes.issued_count(va.id, lic.name)
        )
        if count > available:
            raise CountExceededError(
                f"{count} x {lic.name} requested, {max(available, 0)} available in virtual "
                f"account {va.name}"
            )
        code = AuthorizationCode(
            code_id=secrets.token_hex(16),
            udi=udi,
            account=Account(accounts.account().name, va.name),
            issued_at=now,
            licenses=(
                AuthorizedLicense(lic.name, lic.entitlement_tag, count, lic.enforcement.value),
            ),
            confirmation_code=secrets.token_hex(4),
        )
        envelope = sign(
            ArtifactType.SLAC, code.to_json(), self.authority.signer(), SigningType.AUTHORITY
        )
        codes.add(
            IssuedCode(
                account_id=account_id,
                va_id=va.id,
                code_id=code.code_id,
                udi=str(udi),
                license_name=lic.name,
                entitlement_tag=lic.entitlement_tag,
                enforcement=lic.enforcement.value,
                count=count,
                confirmation_code=code.confirmation_code,
                issued_at=now,
                envelope=envelope.to_bytes().decode(),
            )
        )
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="slac.issue",
            subject=f"{udi}/{lic.name}",
            detail=f"count={count} code={code.code_id}",
        )
        return envelope

    def give_back(
        self,
        session: Session,
        account_id: str,
        envelope: Envelope,
        *,
        sender: Udi | None = None,
        actor: str = "cli",
    ) -> IssuedCode:
        """Verify an instance-signed return code and free the count of its authorization code."""
        envelope.expect(ArtifactType.RETURN_CODE)
        returned = ReturnCode.from_json(envelope.payload_json())
        if sender is not None and returned.udi != sender:
            raise WrongUdiError(f"the return code is for {returned.udi}, sent by {sender}")
        codes = CodeRepository(session, account_id)
        row = codes.get(returned.code_id, lock=True)
        if row.udi != str(returned.udi):
            raise WrongUdiError(f"authorization code {row.code_id} was issued to {row.udi}")
        instance = InstanceRepository(session, account_id).by_udi(row.udi)
        known = instance.public_key if instance is not None else None
        if known is not None and known != returned.public_key.b64():
            raise SignatureMismatchError("the return code is not signed by the instance's key")
        envelope.verify_with(returned.public_key if known is None else VerifyKey.from_b64(known))
        if returned.confirmation_code != row.confirmation_code:
            raise SignatureMismatchError("the return code's confirmation code does not match")
        if row.returned_at is not None:
            raise InstallError(f"authorization code {row.code_id} was already returned")
        now = self.authority.now()
        row.returned_at = now
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="slac.return",
            subject=f"{row.udi}/{row.license_name}",
            detail=f"code={row.code_id} count={row.count}",
        )
        return row

    def pending(
        self,
        session: Session,
        account_id: str,
        udi: Udi,
        have: tuple[str, ...],
        active: list[IssuedCode] | None = None,
    ) -> list[Envelope]:
        """Codes issued for ``udi``, not returned, that the instance does not list as installed.
        ``active``: those codes, already read (``CodeRepository.active_for_udis``)."""
        if active is None:
            active = CodeRepository(session, account_id).active_for_udi(str(udi))
        return [Envelope.parse(r.envelope) for r in active if r.code_id not in have]
