"""The portal's inventory: filtered, searched, paged in SQL, so 100,000 instances stay fast.

Filters (all optional, combined with AND):

* **trust** — ``trusted``: a trust code is on record; ``untrusted``: no trust code, but it has
  reported (its reports are counted ``UNTRUSTED``); ``none``: no trust code and no report yet.
* **last report** — within 1, 7 or 30 days of ``now``, or ``never``.
* **overdue** — the reporting deadline of the policy in force for its virtual account has
  passed. The authority answers every stored report with an ACK at once, so the time of the last
  report is the instance's last ACK and only the *reporting frequency* rule can fall due; the
  days come from ``core.deadlines.compute`` on the VA's policy (``grace_by_class``), never from a
  second copy of the rule. A class is in use when the newest report of one of its licenses
  counts at least one, as in ``usage.compliance``. ``deadline_of`` applies the very same engine
  to one instance for the detail page and the table's "Next report due" column.
* **search** — a case-insensitive substring of the UDI text (``PID:…,SN:…``): a PID or a serial,
  or part of one.

Time is passed in; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.context import Authority
from smartlic.authority.db import paged
from smartlic.authority.policy.service import PolicyService
from smartlic.authority.trust.instances import instance_json
from smartlic.authority.trust.models import ProductInstance
from smartlic.authority.usage.models import UsageReport
from smartlic.core.artifacts import RumReport
from smartlic.core.catalog import Catalog
from smartlic.core.deadlines import NOT_REQUIRED, Deadlines, UsageState, compute
from smartlic.core.envelope import Envelope
from smartlic.core.errors import FormatError
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import Policy
from smartlic.core.timefmt import DAY

MAX_SEARCH = 100


class TrustFilter(StrEnum):
    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"
    NONE = "none"


class LastReportFilter(StrEnum):
    DAY = "1d"
    WEEK = "7d"
    MONTH = "30d"
    NEVER = "never"


class OverdueFilter(StrEnum):
    YES = "yes"
    NO = "no"


TRUST_LABELS = {
    TrustFilter.TRUSTED: "trusted (trust code on record)",
    TrustFilter.UNTRUSTED: "untrusted (reported without a trust code)",
    TrustFilter.NONE: "none (no trust code, no report)",
}
OVERDUE_LABELS = {
    OverdueFilter.YES: "overdue",
    OverdueFilter.NO: "not overdue",
}
LAST_REPORT_LABELS = {
    LastReportFilter.DAY: "within 1 day",
    LastReportFilter.WEEK: "within 7 days",
    LastReportFilter.MONTH: "within 30 days",
    LastReportFilter.NEVER: "never",
}
_WINDOW = {
    LastReportFilter.DAY: DAY,
    LastReportFilter.WEEK: 7 * DAY,
    LastReportFilter.MONTH: 30 * DAY,
}


E = TypeVar("E", bound=StrEnum)


def _choice(kind: type[E], value: str, what: str) -> E | None:
    value = value.strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(item.value for item in kind)
        raise FormatError(
            f"{what} must be one of {allowed} (got {value[:40]!r})",
            hint="Pick a value from the filter's list, or leave it empty for all.",
        ) from None


@dataclass(frozen=True)
class InventoryQuery:
    """What the inventory table shows; every field empty = every instance the caller sees."""

    va_id: str | None = None
    trust: TrustFilter | None = None
    last_report: LastReportFilter | None = None
    overdue: OverdueFilter | None = None
    search: str = ""

    @classmethod
    def parse(
        cls, *, va: str = "", trust: str = "", last_report: str = "", overdue: str = "", q: str = ""
    ) -> InventoryQuery:
        """From the page's query parameters; an unknown value is refused, never ignored."""
        search = q.strip()
        if len(search) > MAX_SEARCH:
            raise FormatError(f"the search text is longer than {MAX_SEARCH} characters")
        return cls(
            va_id=va.strip() or None,
            trust=_choice(TrustFilter, trust, "trust"),
            last_report=_choice(LastReportFilter, last_report, "last report"),
            overdue=_choice(OverdueFilter, overdue, "overdue"),
            search=search,
        )

    def params(self) -> dict[str, str]:
        """The query parameters that give this query back (shareable URLs, page links)."""
        out = {
            "va": self.va_id or "",
            "trust": self.trust.value if self.trust else "",
            "last_report": self.last_report.value if self.last_report else "",
            "overdue": self.overdue.value if self.overdue else "",
            "q": self.search,
        }
        return {k: v for k, v in out.items() if v}


def grace_by_class(policy: Policy) -> dict[PolicyClass, int]:
    """Seconds from the last ACK to the reporting deadline, per class (absent: not required).

    Asked of the core engine with a class in use since 0 and acknowledged at 0: the deadline it
    answers is then exactly the grace the policy gives that class after an ACK.
    """
    out: dict[PolicyClass, int] = {}
    for policy_class in PolicyClass:
        state = UsageState(policy=policy, in_use={policy_class: 1}, first_use_at=0, last_ack_at=0)
        deadline = compute(state, 0).next_ack_deadline
        if deadline is not None:
            out[policy_class] = deadline
    return out


def names_by_class(catalog: Catalog) -> dict[PolicyClass, list[str]]:
    out: dict[PolicyClass, list[str]] = {c: [] for c in PolicyClass}
    for lic in catalog:
        out[lic.policy_class].append(lic.name)
    return out


@dataclass(frozen=True)
class HaMemberRow:
    role: str
    udi: str


class InventoryService:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.policies = PolicyService(authority)
        self.classes = names_by_class(authority.catalog)
        self.class_of = {name: c for c, names in self.classes.items() for name in names}

    # --- the table ------------------------------------------------------------------------

    def page(
        self,
        session: Session,
        account_id: str,
        query: InventoryQuery,
        now: int,
        *,
        limit: int,
        offset: int = 0,
        va_ids: Collection[str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the instances matching ``query`` (by UDI), and how many match."""
        accounts = AccountRepository(session, account_id)
        vas = {v.id: v.name for v in accounts.vas() if va_ids is None or v.id in va_ids}
        if query.va_id is not None:
            accounts.va(query.va_id)
            vas = {k: v for k, v in vas.items() if k == query.va_id}
        pi = ProductInstance
        sql = select(pi).where(pi.account_id == account_id, pi.va_id.in_(sorted(vas)))
        for condition in self._conditions(session, account_id, query, now, vas):
            sql = sql.where(condition)
        sql = sql.order_by(pi.udi, pi.id)
        rows, total = paged(session, sql, limit, offset)
        due = self._deadlines(session, account_id, rows, now)
        out = []
        for row in rows:
            item = instance_json(row, vas.get(row.va_id, ""))
            item["trust"] = trust_of(row).value
            deadline = due.get(row.id, NOT_REQUIRED)
            item["next_due"] = deadline.next_ack_deadline
            item["overdue"] = deadline.overdue
            out.append(item)
        return out, total

    def _conditions(
        self,
        session: Session,
        account_id: str,
        query: InventoryQuery,
        now: int,
        vas: Mapping[str, str],
    ) -> list[ColumnElement[bool]]:
        pi = ProductInstance
        out: list[ColumnElement[bool]] = []
        if query.trust is TrustFilter.TRUSTED:
            out.append(pi.trusted.is_(True))
        elif query.trust is TrustFilter.UNTRUSTED:
            out.append(and_(pi.trusted.is_(False), pi.last_report.is_not(None)))
        elif query.trust is TrustFilter.NONE:
            out.append(and_(pi.trusted.is_(False), pi.last_report.is_(None)))
        if query.last_report is LastReportFilter.NEVER:
            out.append(pi.last_report.is_(None))
        elif query.last_report is not None:
            out.append(pi.last_report >= now - _WINDOW[query.last_report])
        if query.search:
            out.append(func.upper(pi.udi).contains(query.search.upper(), autoescape=True))
        if query.overdue is not None:
            overdue = self._overdue(session, account_id, now, vas)
            out.append(overdue if query.overdue is OverdueFilter.YES else not_(overdue))
        return out

    def _overdue(
        self, session: Session, account_id: str, now: int, vas: Iterable[str]
    ) -> ColumnElement[bool]:
        """SQL: the instance's deadline has passed (module docstring, **overdue**)."""
        pi = ProductInstance
        in_use = {c: self._in_use(account_id, names) for c, names in self.classes.items() if names}
        per_va: list[ColumnElement[bool]] = []
        for va_id in vas:
            grace = grace_by_class(self.policies.in_force(session, account_id, va_id).policy)
            for policy_class, seconds in grace.items():
                if policy_class not in in_use:
                    continue
                per_va.append(
                    and_(
                        pi.va_id == va_id,
                        pi.last_report.is_not(None),
                        pi.last_report < now - seconds,
                        in_use[policy_class],
                    )
                )
        return or_(*per_va) if per_va else false()

    @staticmethod
    def _in_use(account_id: str, names: list[str]) -> ColumnElement[bool]:
        """SQL: the newest report of one of ``names`` from the instance counts at least one.

        Correlated to the instance row, so only candidates (their deadline passed) are probed,
        through the (account, instance) index; correlated explicitly, because the same clause
        serves every virtual account of the query. A grouped, uncorrelated form was measured
        eight times slower on SQLite at 100,000 instances.
        """
        pi = ProductInstance
        report = aliased(UsageReport)
        newer = aliased(UsageReport)
        superseded = (
            select(newer.id)
            .where(
                newer.account_id == account_id,
                newer.instance_id == report.instance_id,
                newer.license_name == report.license_name,
                newer.end_at > report.end_at,
            )
            .correlate(report)
            .exists()
        )
        return (
            select(report.id)
            .where(
                report.account_id == account_id,
                report.instance_id == pi.id,
                report.license_name.in_(names),
                report.count > 0,
                ~superseded,
            )
            .correlate(pi)
            .exists()
        )

    # --- one instance ---------------------------------------------------------------------

    def _deadlines(
        self, session: Session, account_id: str, rows: list[ProductInstance], now: int
    ) -> dict[str, Deadlines]:
        """The deadline of each instance of ``rows``, in one query for all their reports."""
        if not rows:
            return {}
        newest: dict[str, dict[str, tuple[int, int]]] = {}
        first: dict[str, int] = {}
        ids = [r.id for r in rows]
        result = session.execute(
            select(
                UsageReport.instance_id,
                UsageReport.license_name,
                UsageReport.end_at,
                UsageReport.count,
                UsageReport.start_at,
            ).where(UsageReport.account_id == account_id, UsageReport.instance_id.in_(ids))
        )
        for instance_id, name, end_at, count, start_at in result:
            licenses = newest.setdefault(instance_id, {})
            if name not in licenses or end_at >= licenses[name][0]:
                licenses[name] = (end_at, count)
            first[instance_id] = min(first.get(instance_id, start_at), start_at)
        policies: dict[str, Policy] = {}
        out: dict[str, Deadlines] = {}
        for row in rows:
            if row.last_report is None or row.id not in first:
                continue
            in_use: dict[PolicyClass, int] = {}
            for name, (_end, count) in newest.get(row.id, {}).items():
                policy_class = self.class_of.get(name)
                if count > 0 and policy_class is not None:
                    in_use[policy_class] = in_use.get(policy_class, 0) + count
            if row.va_id not in policies:
                policies[row.va_id] = self.policies.in_force(session, account_id, row.va_id).policy
            state = UsageState(
                policy=policies[row.va_id],
                in_use=in_use,
                first_use_at=min(first[row.id], row.last_report) if in_use else None,
                last_ack_at=row.last_report,
            )
            out[row.id] = compute(state, now)
        return out

    def deadline_of(
        self, session: Session, account_id: str, row: ProductInstance, now: int
    ) -> Deadlines:
        return self._deadlines(session, account_id, [row], now).get(row.id, NOT_REQUIRED)

    def ha_set(self, session: Session, account_id: str, instance_id: str) -> list[HaMemberRow]:
        """The HA set (Active, Standby, Members) as the newest stored report of the instance
        carries it: the authority keeps no other copy, and the newest is the device's word."""
        text = session.scalar(
            select(UsageReport.envelope)
            .where(UsageReport.account_id == account_id, UsageReport.instance_id == instance_id)
            .order_by(UsageReport.received_at.desc(), UsageReport.end_at.desc())
            .limit(1)
        )
        if text is None:
            return []
        report = RumReport.from_json(Envelope.parse(text).payload_json())
        return [HaMemberRow(m.role.value, str(m.udi)) for m in report.ha.members]


def trust_of(row: ProductInstance) -> TrustFilter:
    if row.trusted:
        return TrustFilter.TRUSTED
    return TrustFilter.UNTRUSTED if row.last_report is not None else TrustFilter.NONE
