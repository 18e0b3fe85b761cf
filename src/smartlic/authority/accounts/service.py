"""Accounts, virtual accounts, purchases, ID tokens and API tokens. No HTTP here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.authority import audit
from smartlic.authority.accounts.models import (
    ApiToken,
    IdToken,
    Purchase,
    SmartAccount,
    User,
    UserVirtualAccount,
    VirtualAccount,
)
from smartlic.authority.accounts.repository import AccountRepository, Directory
from smartlic.authority.context import Authority
from smartlic.core.errors import (
    ConfigurationError,
    CountExceededError,
    FormatError,
    TokenError,
)

DAY = 86_400
DEFAULT_TOKEN_DAYS = 30
MAX_TOKEN_DAYS = 365
ROLES = ("admin", "va-user", "read-only", "operator")
USER_ROLES = ("admin", "va-user", "read-only")
WRITERS = ("admin", "va-user", "operator")
SESSION_SECONDS = 8 * 3600
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), a per-user random salt, 64-byte key."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=64
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(base64.b64decode(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


_DUMMY_HASH = hash_password("smartlic: no such user", salt=b"\0" * 16)


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
    """Who is calling: an API token's (or logged-in user's) account, role and virtual accounts.

    ``account_id`` None is the operator. ``va_ids`` None means every virtual account of the
    smart account; otherwise the caller sees (and may change) only those.
    """

    account_id: str | None
    va_ids: frozenset[str] | None
    role: str
    token_id: str
    user: str | None = None

    def sees(self, va_id: str) -> bool:
        return self.va_ids is None or va_id in self.va_ids

    @property
    def home_va(self) -> str | None:
        """The one virtual account of a caller limited to exactly one (placement), else None."""
        if self.va_ids is not None and len(self.va_ids) == 1:
            return next(iter(self.va_ids))
        return None

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    @property
    def is_account_admin(self) -> bool:
        return self.role == "admin" and self.va_ids is None

    @property
    def actor(self) -> str:
        return f"user {self.user}" if self.user else f"api {self.token_id}"


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
        if role == "va-user" and va_id is None:
            raise FormatError("a va-user token needs a virtual account")
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
        if row.expires_at is not None and self.authority.now() >= row.expires_at:
            return None
        if row.user_id is None:
            vas = frozenset({row.va_id}) if row.va_id is not None else None
            return Caller(row.account_id, vas, row.role, row.id)
        user = session.get(User, row.user_id)
        if user is None or user.disabled_at is not None or user.account_id != row.account_id:
            return None
        return Caller(
            user.account_id, self.user_vas(session, user), user.role, row.id, user.username
        )

    # --- users ----------------------------------------------------------------------------

    def user_vas(self, session: Session, user: User) -> frozenset[str] | None:
        if user.role != "va-user":
            return None
        rows = session.scalars(
            select(UserVirtualAccount.va_id).where(
                UserVirtualAccount.account_id == user.account_id,
                UserVirtualAccount.user_id == user.id,
            )
        )
        return frozenset(rows)

    def create_user(
        self,
        session: Session,
        account_id: str,
        username: str,
        password: str,
        role: str,
        *,
        va_ids: list[str] | tuple[str, ...] = (),
        actor: str = "cli",
    ) -> User:
        username = username.strip()
        if not re.fullmatch(r"[A-Za-z0-9._@+-]{1,100}", username):
            raise FormatError("a username is 1 to 100 letters, digits or . _ @ + -")
        if role not in USER_ROLES:
            raise FormatError(f"role must be one of {', '.join(USER_ROLES)}")
        if not 8 <= len(password) <= 1024:
            raise FormatError("a password is 8 to 1024 characters")
        if role == "va-user" and not va_ids:
            raise FormatError("a va-user needs at least one virtual account (--va)")
        if role != "va-user" and va_ids:
            raise FormatError("only a va-user is limited to virtual accounts")
        repo = AccountRepository(session, account_id)
        repo.account()
        vas = [repo.va(va_id) for va_id in dict.fromkeys(va_ids)]
        if repo.user_by_name(username) is not None:
            raise ConfigurationError(f"user {username!r} already exists in this smart account")
        now = self.authority.now()
        user = User(
            account_id=account_id,
            username=username,
            password_hash=hash_password(password),
            role=role,
            created_at=now,
        )
        session.add(user)
        session.flush()
        for va in vas:
            session.add(UserVirtualAccount(account_id=account_id, user_id=user.id, va_id=va.id))
        session.flush()
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="user.create",
            subject=username,
            detail=f"role={role} vas={','.join(va.name for va in vas)}",
        )
        return user

    def login(
        self, session: Session, account_name: str, username: str, password: str
    ) -> tuple[NewToken, User]:
        """Check a password; a session token (bearer, ``SESSION_SECONDS``) acting as the user."""
        account = Directory(session).account_by_name_or_none(account_name)
        user = (
            AccountRepository(session, account.id).user_by_name(username.strip())
            if account is not None
            else None
        )
        ok = check_password(password, user.password_hash if user is not None else _DUMMY_HASH)
        if account is None or user is None or not ok or user.disabled_at is not None:
            raise TokenError("unknown smart account, user name or password")
        now = self.authority.now()
        token = "sls_" + secrets.token_urlsafe(32)
        row = ApiToken(
            account_id=account.id,
            va_id=None,
            token_hash=hash_token(token),
            role=user.role,
            description=f"session of {user.username}",
            created_at=now,
            user_id=user.id,
            expires_at=now + SESSION_SECONDS,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            at=now,
            account_id=account.id,
            actor=f"user {user.username}",
            action="user.login",
            subject=user.username,
        )
        return NewToken(row.id, token, row.expires_at), user

    def logout(self, session: Session, caller: Caller) -> None:
        row = session.get(ApiToken, caller.token_id)
        if row is not None and row.revoked_at is None:
            row.revoked_at = self.authority.now()

    # --- license transfers ----------------------------------------------------------------

    def transfer(
        self,
        session: Session,
        account_id: str,
        from_va_id: str,
        to_va_id: str,
        license_name: str,
        count: int,
        *,
        actor: str = "cli",
    ) -> list[Purchase]:
        """Move ``count`` active licenses between two virtual accounts of one smart account.

        The source keeps at least what it has issued (authorization codes not returned) and
        what is in use (newest reports): ``COUNT_EXCEEDED`` otherwise. Counts move from the
        source's active purchases, those ending last first (perpetual ones last of all), and
        keep their terms (start, end) in the target.
        """
        from smartlic.authority.authorization.repository import CodeRepository
        from smartlic.authority.authorization.service import purchased_count
        from smartlic.authority.usage.repository import UsageRepository

        lic = self.authority.catalog.get(license_name)
        if not 1 <= count <= 1_000_000:
            raise FormatError("count must be within 1..1000000")
        if from_va_id == to_va_id:
            raise FormatError("the source and target virtual accounts are the same")
        repo = AccountRepository(session, account_id)
        source, target = repo.va(from_va_id), repo.va(to_va_id)
        # Serialise with authorization-code issuance in the source virtual account.
        session.execute(
            select(VirtualAccount.id).where(VirtualAccount.id == source.id).with_for_update()
        )
        now = self.authority.now()
        purchased = purchased_count(session, account_id, source.id, lic.name, now)
        issued = CodeRepository(session, account_id).issued_count(source.id, lic.name)
        in_use = sum(
            n
            for (_udi, name), (_end, n) in UsageRepository(session, account_id)
            .latest_counts(source.id)
            .items()
            if name == lic.name
        )
        free = purchased - max(issued, in_use)
        if count > free:
            raise CountExceededError(
                f"{count} x {lic.name} requested, {max(free, 0)} transferable from "
                f"{source.name} ({purchased} purchased, {issued} issued, {in_use} in use)"
            )
        active = [
            p
            for p in repo.purchases(source.id)
            if p.license_name == lic.name and p.start_at <= now and (p.end_at or now + 1) > now
        ]
        active.sort(key=lambda p: (p.end_at is None, -(p.end_at or 0), p.created_at))
        moved: list[Purchase] = []
        left = count
        for p in active:
            take = min(left, p.count)
            if take <= 0:
                break
            p.count -= take
            left -= take
            if p.count == 0:
                session.delete(p)
            row = Purchase(
                account_id=account_id,
                va_id=target.id,
                license_name=lic.name,
                entitlement_tag=lic.entitlement_tag,
                count=take,
                start_at=p.start_at,
                end_at=p.end_at,
                created_at=now,
            )
            session.add(row)
            moved.append(row)
        session.flush()
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="license.transfer",
            subject=f"{source.name}->{target.name}/{lic.name}",
            detail=f"count={count}",
        )
        return moved
