"""Compliance: per virtual account and license, in use (newest reports) vs purchased."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.authorization.repository import CodeRepository
from smartlic.authority.authorization.service import purchased_count
from smartlic.authority.usage.repository import UsageRepository


@dataclass(frozen=True)
class ComplianceRow:
    virtual_account: str
    license_name: str
    in_use: int
    purchased: int
    authorized: int
    shortfall: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


CSV_HEADER = "virtual_account,license,in_use,purchased,authorized,shortfall"


def compliance(
    session: Session, account_id: str, now: int, va_ids: Collection[str] | None = None
) -> list[ComplianceRow]:
    """Rows for every virtual account (or only ``va_ids``), by VA name then license."""
    accounts = AccountRepository(session, account_id)
    usage = UsageRepository(session, account_id)
    codes = CodeRepository(session, account_id)
    rows: list[ComplianceRow] = []
    for va in accounts.vas():
        if va_ids is not None and va.id not in va_ids:
            continue
        in_use: dict[str, int] = {}
        for (_udi, license_name), (_end, count) in usage.latest_counts(va.id).items():
            in_use[license_name] = in_use.get(license_name, 0) + count
        names = set(in_use) | {p.license_name for p in accounts.purchases(va.id)}
        names |= {c.license_name for c in codes.all(va.id)}
        for name in sorted(names):
            purchased = purchased_count(session, account_id, va.id, name, now)
            used = in_use.get(name, 0)
            rows.append(
                ComplianceRow(
                    va.name,
                    name,
                    used,
                    purchased,
                    codes.issued_count(va.id, name),
                    max(0, used - purchased),
                )
            )
    return rows


def to_csv(rows: list[ComplianceRow]) -> str:
    lines = [CSV_HEADER]
    for r in rows:
        name = r.virtual_account.replace('"', '""')
        lines.append(
            f'"{name}",{r.license_name},{r.in_use},{r.purchased},{r.authorized},{r.shortfall}'
        )
    return "\n".join(lines) + "\n"
