"""Custom policies and the policy in force (rule: docs/authority.md, "Policy in force").

The policy in force for a product instance in virtual account V of smart account S is:

1. the newest custom policy assigned to V, else
2. the newest custom policy assigned to S (no virtual account), else
3. the Cisco default.

A custom policy is a partial ``CustomPolicySpec`` merged field-wise over the Cisco default, so
values it does not set keep their ``CISCO default`` origin. Its ``issued_at`` is its creation
time (the Cisco default has ``issued_at`` 0), which is what an instance's
``state.policy_issued_at`` is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from smartlic.authority import audit
from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.context import Authority
from smartlic.authority.policy.models import CustomPolicy
from smartlic.authority.policy.repository import PolicyRepository
from smartlic.core import jsonio
from smartlic.core.artifacts import Account, PolicyGrant
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import FormatError
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import CISCO_DEFAULT, ClassOverrides, CustomPolicySpec, Policy, merge
from smartlic.core.udi import Udi


@dataclass(frozen=True)
class InForce:
    policy: Policy
    issued_at: int
    source: str
    """``virtual account``, ``smart account`` or ``default``."""


def spec_of(row: CustomPolicy) -> CustomPolicySpec:
    return CustomPolicySpec.from_json(jsonio.Fields(jsonio.loads(row.spec), "policy"))


class PolicyService:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self._parsed: dict[str, InForce] = {}

    def create(
        self,
        session: Session,
        account_id: str,
        name: str,
        *,
        va_id: str | None = None,
        rules: dict[PolicyClass, ClassOverrides] | None = None,
        ack_required: bool | None = None,
        actor: str = "cli",
    ) -> CustomPolicy:
        accounts = AccountRepository(session, account_id)
        accounts.account()
        va_name = accounts.va(va_id).name if va_id is not None else None
        repo = PolicyRepository(session, account_id)
        seq = repo.next_seq()
        try:
            spec = CustomPolicySpec(
                name=name, serial=seq, ack_required=ack_required, rules=dict(rules or {})
            )
        except ValueError as exc:
            raise FormatError(f"invalid policy: {exc}") from None
        now = self.authority.now()
        row = CustomPolicy(
            account_id=account_id,
            va_id=va_id,
            name=name,
            serial=seq,
            spec=jsonio.dumps(spec.to_json()).decode(),
            created_at=now,
            seq=seq,
        )
        repo.add(row)
        session.flush()
        audit.record(
            session,
            at=now,
            account_id=account_id,
            actor=actor,
            action="policy.create",
            subject=f"{va_name or '(smart account)'}/{name}",
            detail=row.spec,
        )
        return row

    def in_force(self, session: Session, account_id: str, va_id: str) -> InForce:
        repo = PolicyRepository(session, account_id)
        found = repo.in_force(va_id)
        if found is None:
            return InForce(CISCO_DEFAULT, 0, "default")
        # A custom policy row is never changed once written (a new policy is a new row), so
        # its parsed and merged form is kept by id; which row is in force is asked every time.
        policy_id, policy_va, created_at = found
        known = self._parsed.get(policy_id)
        if known is None:
            row = repo.get(policy_id)
            if row is None:  # only removing the account removes a policy: it has just gone
                return InForce(CISCO_DEFAULT, 0, "default")
            source = "smart account" if policy_va is None else "virtual account"
            known = InForce(merge(CISCO_DEFAULT, spec_of(row)), created_at, source)
            if len(self._parsed) >= 10_000:
                self._parsed.clear()
            self._parsed[policy_id] = known
        return known

    def grant(
        self, session: Session, account_id: str, va_id: str, udi: Udi | None
    ) -> tuple[InForce, Envelope]:
        """The signed policy in force for ``va_id`` (pinned to ``udi`` when given)."""
        accounts = AccountRepository(session, account_id)
        account = Account(accounts.account().name, accounts.va(va_id).name)
        current = self.in_force(session, account_id, va_id)
        return current, self.sign(current, account, udi)

    def sign(self, current: InForce, account: Account, udi: Udi | None) -> Envelope:
        grant = PolicyGrant(current.policy, account, current.issued_at, udi)
        return sign(
            ArtifactType.POLICY, grant.to_json(), self.authority.signer(), SigningType.AUTHORITY
        )
