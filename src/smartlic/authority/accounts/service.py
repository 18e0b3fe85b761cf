"""Accounts, virtual accounts, purchases, ID tokens and API tokens. No HTTP here."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from smartlic.authority import audit
from smartlic.authority.accounts.models import (
    ApiToken,
    IdToken,
    Purchase,
    SmartAccount,
    VirtualAccount,
)
from smartlic.authority.accounts.repository import AccountRepository, Directory
from smartlic.authority.context import Authority
from smartlic.core.errors import ConfigurationError, FormatError, TokenError

DAY = 86_400
DEFAULT_TOKEN_DAYS = 30
MAX_TOKEN_DAYS = 365
ROLES = ("admin", "read-only", "operator")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _slug(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text[:24] or "va"


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise FormatError(f"{what} name must be 1 to 200 characters")
    return name


@dataclass(frozen=True)
class NewToken:
    row_id: str
    token: str
    expires_at: int | None = None


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API token's account (None = operator), optional VA and role."""

    account_id: str | None
    va_id: str | None
    role: str
    token_id: str

    @property
    def is_admin(self) -> bool:
        return self.role in ("admin", "operator")


class AccountService:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority

    def create_account(self, session: Session, name: str, actor: str = "cli") -> SmartAccount:
        name = _check_name(name, "smart account")
        now = self.authority.now()
        if Directory(session).account_by_name_or_none(name) is not None:
            raise ConfigurationError(f"smart account {name!r} already exists")
        row = SmartAccount(name=name, created_at=now)
        session.add(row)
        session.flush()
        audit.record(
            session, at=now, account_id=row.id, actor=actor, action="account.create", subject=name
        )
        return row

    def create_va(
        self,
        session: Session,
        account_id: str,
        name: str,
        *,
        allow_export: bool = False,
        actor: str = "cli",
    ) -> VirtualAccount:
        name = _check_name(name, "virtual account")
        repo = AccountRepository(session, account_id)
        repo.account()
        if any(va.name == name for va in repo.vas()):
            raise ConfigurationError(f"virtual account {name!r} already exists")
        directory = Directory(session)
        tenant = ""
        for _ in range(20):
            tenant = f"{_slug(name)}-{secrets.token_hex(3)}"
            if not directory.tenant_taken(tenant):
                break
        now = self.authority.now()
        row = VirtualAccount(
            account_id=account_id,
            name=name,
            tenant_id=tenant,
            allow_export=allow_export,
            created_at=now,
        )
        repo.add(row)
        session.flush()
        audit.record(
            session, at=now, account_id=account_id, actor=actor, action="va.create", subject=name
        )
        return row

    def add_purchase(
        self,
        session: Session,
        account_id: str,
        va_id: str,
        license_name: str,
        count: int,
        *,
        end_at: int | None = None,
        actor: str = "cli",
    ) -> Purchase:
        lic = self.authority.catalog.get(license_name)
        if count < 1 or count > 1_000_000:
            raise FormatError("count must be within 1..1000000")
        repo = AccountRepository(session, account_id)
        va = repo.va(va_id)
        now = self.authority.now()
        if end_at is not None and end_at <= now:
            raise FormatError("the subscription end must be in the future")
        row = Purchase(
            account_id=account_id,
            va_id=va.id,
            license_name=lic.name,
            entitlement_tag=lic.entitlement_tag,
            count=count,
            start_at=now,
            end_at=end_at,
            created_at=now,
        )
        repo.add(row)
        session.flush()
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="purchase.add",
            subject=f"{va.name}/{lic.name}",
            detail=f"count={count} end_at={end_at}",
        )
        return row

    def create_id_token(
        self,
        session: Session,
        account_id: str,
        va_id: str,
        *,
        expires_days: int = DEFAULT_TOKEN_DAYS,
        max_uses: int | None = None,
        allow_export: bool = False,
        description: str = "",
        actor: str = "cli",
    ) -> NewToken:
        if not 1 <= expires_days <= MAX_TOKEN_DAYS:
            raise FormatError(f"expiry must be within 1..{MAX_TOKEN_DAYS} days")
        if max_uses is not None and max_uses < 1:
            raise FormatError("max uses must be at least 1")
        repo = AccountRepository(session, account_id)
        va = repo.va(va_id)
        now = self.authority.now()
        token = secrets.token_urlsafe(48)
        row = IdToken(
            account_id=account_id,
            va_id=va.id,
            token_hash=hash_token(token),
            description=description[:200],
            created_at=now,
            expires_at=now + expires_days * DAY,
            max_uses=max_uses,
            uses=0,
            allow_export=allow_export,
        )
        repo.add(row)
        session.flush()
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="id_token.create",
            subject=f"{va.name}/{row.id}",
            detail=f"expires_at={row.expires_at} max_uses={max_uses} export={allow_export}",
        )
        return NewToken(row.id, token, row.expires_at)

    def revoke_id_token(
        self, session: Session, account_id: str, token_id: str, actor: str = "cli"
    ) -> IdToken:
        row = AccountRepository(session, account_id).id_token(token_id)
        now = self.authority.now()
        if row.revoked_at is None:
            row.revoked_at = now
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="id_token.revoke",
            subject=token_id,
        )
        return row

    def use_id_token(self, session: Session, token: str, now: int) -> IdToken:
        """Check an ID token for a trust request; the caller counts the use on success."""
        row = Directory(session).id_token_by_hash(hash_token(token))
        if row is None:
            raise TokenError("the ID token is not known to this authority")
        if row.revoked_at is not None:
            raise TokenError("the ID token has been revoked")
        if now > row.expires_at:
            raise TokenError("the ID token has expired")
        if row.max_uses is not None and row.uses >= row.max_uses:
            raise TokenError("the ID token has been used its maximum number of times")
        return row

    def create_api_token(
        self,
        session: Session,
        account_id: str | None,
        *,
        va_id: str | None = None,
        role: str = "admin",
        description: str = "",
        actor: str = "cli",
    ) -> NewToken:
        if role not in ROLES:
            raise FormatError(f"role must be one of {', '.join(ROLES)}")
        if (account_id is None) != (role == "operator"):
            raise FormatError("operator tokens have no account; other roles need one")
        if account_id is not None and va_id is not None:
            AccountRepository(session, account_id).va(va_id)
        now = self.authority.now()
        token = "slk_" + secrets.token_urlsafe(32)
        row = ApiToken(
            account_id=account_id,
            va_id=va_id,
            token_hash=hash_token(token),
            role=role,
            description=description[:200],
            created_at=now,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="api_token.create",
            subject=row.id,
            detail=f"role={role} va={va_id}",
        )
        return NewToken(row.id, token)

    def revoke_api_token(
        self, session: Session, account_id: str, token_id: str, actor: str = "cli"
    ) -> None:
        row = AccountRepository(session, account_id).api_token(token_id)
        now = self.authority.now()
        row.revoked_at = row.revoked_at or now
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="api_token.revoke",
            subject=token_id,
        )

    def authenticate(self, session: Session, token: str) -> Caller | None:
        row = Directory(session).api_token_by_hash(hash_token(token))
        if row is None or row.revoked_at is not None:
            return None
        return Caller(row.account_id, row.va_id, row.role, row.id)
