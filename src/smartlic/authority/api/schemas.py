"""Request and response bodies of the REST API (they make the OpenAPI document)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    role: str = Field("read-only", pattern="^(admin|read-only)$")
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
