"""The audit log: every issuance, refusal and admin change gets a row."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from smartlic.authority.accounts.models import AuditEntry
from smartlic.authority.db import transaction


def record(
    session: Session,
    *,
    at: int,
    account_id: str | None,
    actor: str,
    action: str,
    subject: str = "",
    outcome: str = "ok",
    detail: str = "",
) -> None:
    session.add(
        AuditEntry(
            account_id=account_id,
            at=at,
            actor=actor[:200],
            action=action[:64],
            outcome=outcome[:16],
            subject=subject[:300],
            detail=detail,
        )
    )


def record_refusal(
    sessions: sessionmaker[Session],
    *,
    at: int,
    account_id: str | None,
    actor: str,
    action: str,
    subject: str,
    code: str,
    reason: str,
) -> None:
    """In its own transaction: the refused work was rolled back, its refusal must stay."""
    with transaction(sessions) as session:
        record(
            session,
            at=at,
            account_id=account_id,
            actor=actor,
            action=action,
            subject=subject,
            outcome="refused",
            detail=f"{code}: {reason}",
        )
