"""The product-instance inventory: list, show (with usage per license), remove."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session

from smartlic.authority import audit
from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.trust.models import ProductInstance
from smartlic.authority.trust.repository import InstanceRepository
from smartlic.authority.usage.repository import UsageRepository
from smartlic.core.errors import NotFoundError


def instance_json(row: ProductInstance, va_name: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "udi": row.udi,
        "virtual_account": va_name,
        "va_id": row.va_id,
        "hostname": row.hostname,
        "first_seen": row.first_seen,
        "last_report": row.last_report,
        "trust": "trusted" if row.trusted else "untrusted",
        "trust_issued_at": row.trust_issued_at,
    }


class InstanceService:
    def list(
        self,
        session: Session,
        account_id: str,
        va_id: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        va_ids: Collection[str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of instances (and the total), as JSON objects."""
        names = {va.id: va.name for va in AccountRepository(session, account_id).vas()}
        rows, total = InstanceRepository(session, account_id).all(
            va_id, limit=limit, offset=offset, va_ids=va_ids
        )
        return [instance_json(row, names.get(row.va_id, "")) for row in rows], total

    def find(self, session: Session, account_id: str, ref: str) -> ProductInstance:
        """By id or by UDI text."""
        repo = InstanceRepository(session, account_id)
        row = repo.by_udi(ref)
        if row is None:
            try:
                row = repo.get(ref)
            except NotFoundError:
                raise NotFoundError(f"no product instance {ref!r} in this smart account") from None
        return row

    def show(self, session: Session, account_id: str, ref: str) -> dict[str, Any]:
        row = self.find(session, account_id, ref)
        va = AccountRepository(session, account_id).va(row.va_id)
        usage = UsageRepository(session, account_id)
        out = instance_json(row, va.name)
        out["usage"] = [
            {"license_name": name, "count": count, "as_of": end}
            for (_udi, name), (end, count) in sorted(
                usage.latest_counts(instance_id=row.id).items()
            )
        ]
        out["reports"] = usage.count(udi=row.udi)
        return out

    def remove(
        self, session: Session, account_id: str, ref: str, now: int, actor: str = "cli"
    ) -> None:
        """Remove a product instance; its report ids stay known (tombstones), so they can
        never be stored or counted again (docs/authority.md, "Removing a product instance")."""
        row = self.find(session, account_id, ref)
        buried = UsageRepository(session, account_id).bury(row.id, now)
        session.delete(row)
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="instance.remove",
            subject=row.udi,
            detail=f"report_tombstones={buried}",
        )
