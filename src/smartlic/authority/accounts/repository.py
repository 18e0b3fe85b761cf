"""Queries on account data. ``AccountRepository`` is scoped by one smart account; ``Directory``
holds the few unscoped look-ups that *find* the account (by name, tenant or token hash)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from smartlic.authority.accounts.models import (
    ApiToken,
    AuditEntry,
    IdToken,
    Purchase,
    SmartAccount,
    User,
    VirtualAccount,
)
from smartlic.core.errors import NotFoundError


class Directory:
    def __init__(self, session: Session) -> None:
        self.session = session

    def account_by_name(self, name: str) -> SmartAccount:
        row = self.session.scalar(select(SmartAccount).where(SmartAccount.name == name))
        if row is None:
            raise NotFoundError(f"no smart account named {name!r}")
        return row

    def account_by_name_or_none(self, name: str) -> SmartAccount | None:
        return self.session.scalar(select(SmartAccount).where(SmartAccount.name == name))

    def account_by_id(self, account_id: str) -> SmartAccount:
        row = self.session.get(SmartAccount, account_id)
        if row is None:
            raise NotFoundError("no such smart account")
        return row

    def accounts(self) -> list[SmartAccount]:
        return list(self.session.scalars(select(SmartAccount).order_by(SmartAccount.name)))

    def va_by_tenant(self, tenant_id: str) -> VirtualAccount:
        row = self.session.scalar(
            select(VirtualAccount).where(VirtualAccount.tenant_id == tenant_id)
        )
        if row is None:
            raise NotFoundError(f"no tenant {tenant_id!r}")
        return row

    def tenant_taken(self, tenant_id: str) -> bool:
        found = self.session.scalar(
            select(func.count())
            .select_from(VirtualAccount)
            .where(VirtualAccount.tenant_id == tenant_id)
        )
        return bool(found)

    def id_token_by_hash(self, token_hash: str) -> IdToken | None:
        return self.session.scalar(
            select(IdToken).where(IdToken.token_hash == token_hash).with_for_update()
        )

    def api_token_by_hash(self, token_hash: str) -> TokenGrant | None:
        """What authenticating needs of a token: a Core row, not an ORM object, because every
        request of a utility or script asks (about a third of the cost, ADR 0014)."""
        row = self.session.execute(_API_TOKEN_BY_HASH, {"hash": token_hash}).first()
        return TokenGrant(*row) if row is not None else None


@dataclass(frozen=True, slots=True)
class TokenGrant:
    id: str
    account_id: str | None
    va_id: str | None
    role: str
    user_id: str | None
    revoked_at: int | None
    expires_at: int | None


# Built once: every request of a utility or script looks its token up (ADR 0010).
_TOKENS = ApiToken.__table__.c
_API_TOKEN_BY_HASH = select(
    _TOKENS.id,
    _TOKENS.account_id,
    _TOKENS.va_id,
    _TOKENS.role,
    _TOKENS.user_id,
    _TOKENS.revoked_at,
    _TOKENS.expires_at,
).where(_TOKENS.token_hash == bindparam("hash"))


class AccountRepository:
    """Every query filters on ``account_id``: another account's rows are never visible."""

    def __init__(self, session: Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    def account(self) -> SmartAccount:
        return Directory(self.session).account_by_id(self.account_id)

    def add(self, row: object) -> None:
        self.session.add(row)

    def vas(self) -> list[VirtualAccount]:
        return list(
            self.session.scalars(
                select(VirtualAccount)
                .where(VirtualAccount.account_id == self.account_id)
                .order_by(VirtualAccount.name)
            )
        )

    def va(self, va_id: str) -> VirtualAccount:
        row = self.session.scalar(
            select(VirtualAccount).where(
                VirtualAccount.account_id == self.account_id, VirtualAccount.id == va_id
            )
        )
        if row is None:
            raise NotFoundError("no such virtual account in this smart account")
        return row

    def names(self, va_id: str) -> tuple[str, str]:
        """(smart account name, virtual account name) in one query."""
        row = self.session.execute(
            select(SmartAccount.name, VirtualAccount.name)
            .join(VirtualAccount, VirtualAccount.account_id == SmartAccount.id)
            .where(SmartAccount.id == self.account_id, VirtualAccount.id == va_id)
        ).first()
        if row is None:
            raise NotFoundError("no such virtual account in this smart account")
        return row[0], row[1]

    def va_by_name(self, name: str) -> VirtualAccount:
        row = self.session.scalar(
            select(VirtualAccount).where(
                VirtualAccount.account_id == self.account_id, VirtualAccount.name == name
            )
        )
        if row is None:
            raise NotFoundError(f"no virtual account named {name!r} in this smart account")
        return row

    def purchases(self, va_id: str | None = None) -> list[Purchase]:
        query = select(Purchase).where(Purchase.account_id == self.account_id)
        if va_id is not None:
            query = query.where(Purchase.va_id == va_id)
        return list(self.session.scalars(query.order_by(Purchase.created_at, Purchase.id)))

    def id_tokens(self, va_id: str | None = None) -> list[IdToken]:
        query = select(IdToken).where(IdToken.account_id == self.account_id)
        if va_id is not None:
            query = query.where(IdToken.va_id == va_id)
        return list(self.session.scalars(query.order_by(IdToken.created_at, IdToken.id)))

    def id_token(self, token_id: str) -> IdToken:
        row = self.session.scalar(
            select(IdToken).where(IdToken.account_id == self.account_id, IdToken.id == token_id)
        )
        if row is None:
            raise NotFoundError("no such ID token in this smart account")
        return row

    def api_token(self, token_id: str) -> ApiToken:
        row = self.session.scalar(
            select(ApiToken).where(ApiToken.account_id == self.account_id, ApiToken.id == token_id)
        )
        if row is None:
            raise NotFoundError("no such API token in this smart account")
        return row

    def audit(
        self,
        limit: int = 100,
        *,
        search: str = "",
        outcome: str = "",
        subject: str | None = None,
    ) -> list[AuditEntry]:
        """The newest entries, filtered in SQL so a filter reaches the whole history, not only
        the latest page. ``search`` is a case-insensitive substring of action, subject, detail
        or actor."""
        query = select(AuditEntry).where(AuditEntry.account_id == self.account_id)
        if outcome:
            query = query.where(AuditEntry.outcome == outcome)
        if subject is not None:
            query = query.where(AuditEntry.subject == subject)
        needle = search.strip().lower()
        if needle:
            query = query.where(
                or_(
                    *(
                        func.lower(column).contains(needle, autoescape=True)
                        for column in (
                            AuditEntry.action,
                            AuditEntry.subject,
                            AuditEntry.detail,
                            AuditEntry.actor,
                        )
                    )
                )
            )
        return list(self.session.scalars(query.order_by(AuditEntry.at.desc()).limit(limit)))

    def user_by_name(self, username: str) -> User | None:
        return self.session.scalar(
            select(User).where(User.account_id == self.account_id, User.username == username)
        )

    def users(self) -> list[User]:
        return list(
            self.session.scalars(
                select(User).where(User.account_id == self.account_id).order_by(User.username)
            )
        )
