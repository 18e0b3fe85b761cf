"""Request and response bodies of the REST API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Strict(BaseModel):
    """Request bodies: unknown fields refused, no coercion (``0`` is not ``false``)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class AccountIn(Strict):
    name: str = Field(min_length=1, max_length=200)


class VirtualAccountIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    allow_export: bool = False


class VirtualAccountOut(BaseModel):
    id: str
    name: str
    tenant_id: str
    allow_export: bool


class AccountOut(BaseModel):
    id: str
    name: str
    virtual_accounts: list[VirtualAccountOut] = []


class IdTokenIn(Strict):
    expires_days: int = Field(30, ge=1, le=365)
    max_uses: int | None = Field(None, ge=1)
    allow_export: bool = False
    description: str = Field("", max_length=200)


class IdTokenOut(BaseModel):
    id: str
    va_id: str
    description: str
    created_at: int
    expires_at: int
    max_uses: int | None
    uses: int
    allow_export: bool
    revoked_at: int | None


class NewTokenOut(BaseModel):
    id: str
    token: str
    expires_at: int | None = None


class ApiTokenIn(Strict):
    va_id: str | None = None
    role: str = Field("read-only", pattern="^(admin|va-user|read-only)$")
    description: str = Field("", max_length=200)


class PurchaseIn(Strict):
    license_name: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=1, le=1_000_000)
    end_at: int | None = Field(None, ge=0)


class PurchaseOut(BaseModel):
    id: str
    va_id: str
    license_name: str
    count: int
    start_at: int
    end_at: int | None


class ClassRulesIn(Strict):
    first_report: int | None = Field(None, ge=0, le=3650)
    reporting_frequency: int | None = Field(None, ge=0, le=3650)
    report_on_change: int | None = Field(None, ge=0, le=3650)


class PolicyIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    va_id: str | None = None
    ack_required: bool | None = None
    unenforced_perpetual: ClassRulesIn | None = None
    unenforced_subscription: ClassRulesIn | None = None
    enforced: ClassRulesIn | None = None
    export: ClassRulesIn | None = None


class PolicyOut(BaseModel):
    id: str
    va_id: str | None
    name: str
    serial: int
    created_at: int
    spec: dict[str, object]


class InstanceOut(BaseModel):
    id: str
    udi: str
    virtual_account: str
    va_id: str
    hostname: str | None
    first_seen: int
    last_report: int | None
    trust: str
    trust_issued_at: int | None


class UsageLine(BaseModel):
    license_name: str
    count: int
    as_of: int


class InstanceDetail(InstanceOut):
    usage: list[UsageLine]
    reports: int


class SlacIn(Strict):
    udi: str = Field(min_length=1, max_length=100)
    license_name: str = Field(min_length=1, max_length=64)
    count: int = Field(1, ge=1, le=1_000_000)


class SlacOut(BaseModel):
    code_id: str
    confirmation_code: str
    udi: str
    license_name: str
    count: int
    file: str
    """The authorization-code file (``<smartLicense>`` XML) to import on the instance."""


class ReturnOut(BaseModel):
    code_id: str
    udi: str
    license_name: str
    count: int
    returned_at: int


class ComplianceOut(BaseModel):
    virtual_account: str
    license_name: str
    in_use: int
    purchased: int
    authorized: int
    shortfall: int


class Health(BaseModel):
    status: str
    database: str
    keyset_version: int


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` from ``offset`` (at most ``limit``) of ``total``."""

    items: list[T]
    total: int
    limit: int
    offset: int


class UserIn(Strict):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@+-]+$")
    password: str = Field(min_length=8, max_length=1024)
    role: str = Field(pattern="^(admin|va-user|read-only)$")
    va_ids: list[str] = Field(default_factory=list, max_length=100)


class UserOut(BaseModel):
    id: str
    username: str
    role: str
    va_ids: list[str]
    created_at: int


class LoginIn(Strict):
    account: str = Field(min_length=1, max_length=200)
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    token: str
    """A bearer token acting as the user (``Authorization: Bearer``) until ``expires_at``."""
    token_type: str = "Bearer"  # noqa: S105 (the scheme name, not a secret)
    expires_at: int
    account_id: str
    username: str
    role: str
    va_ids: list[str] | None
    """The virtual accounts a ``va-user`` is limited to; null for the whole smart account."""


class TransferIn(Strict):
    from_va_id: str = Field(min_length=1, max_length=64)
    to_va_id: str = Field(min_length=1, max_length=64)
    license_name: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=1, le=1_000_000)


class TransferOut(BaseModel):
    from_va_id: str
    to_va_id: str
    license_name: str
    count: int
    purchases: list[PurchaseOut]
    """The purchases created in the target virtual account (terms kept from the source)."""


class SlacInfo(BaseModel):
    code_id: str
    va_id: str
    udi: str
    license_name: str
    count: int
    issued_at: int
    returned_at: int | None
