"""Every table, imported in one place so metadata is complete (Alembic, tests)."""

from __future__ import annotations

from smartlic.authority.accounts.models import (
    ApiToken,
    AuditEntry,
    IdToken,
    Purchase,
    SmartAccount,
    User,
    UserVirtualAccount,
    VirtualAccount,
)
from smartlic.authority.authorization.models import IssuedCode
from smartlic.authority.cssm.models import PollResult
from smartlic.authority.db import Base
from smartlic.authority.policy.models import CustomPolicy
from smartlic.authority.trust.models import ProductInstance
from smartlic.authority.uploads.models import Upload
from smartlic.authority.usage.models import ReportTombstone, StoredAck, UsageReport

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "CustomPolicy",
    "IdToken",
    "IssuedCode",
    "PollResult",
    "ProductInstance",
    "Purchase",
    "ReportTombstone",
    "SmartAccount",
    "StoredAck",
    "Upload",
    "UsageReport",
    "User",
    "UserVirtualAccount",
    "VirtualAccount",
]
