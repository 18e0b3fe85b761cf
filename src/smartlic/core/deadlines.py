"""When the next usage report acknowledgement is due, when to warn, and when to push.

Pure functions over integer epoch seconds so the agent, the lab (thousands of instances, each with
its own clock, jumping months at a time) and the tests all get the same answer for the same
inputs. The deadline never depends on ``now``: only on what happened (first use, ACKs, usage
changes). ``now`` only decides whether it has passed.

The rules (reference §2.1, §6.3, §11), per license class, with 0 meaning "not required":

* **first report** — until the first ACK of a usage report: due ``first_report`` days after the
  class came into use. The product's very first use is *not* a "change": a perpetual-only device
  on the Cisco default owes its first report in 365 days, not in 90 (genie S3:
  ``State(2) InPolicy(365)``, deadline = first use + 365 days).
* **reporting frequency** — after an ACK: due ``reporting_frequency`` days after the later of the
  last ACK and the moment the class came into use (ACK Oct 14 2021 → Jan 12 2022 with 90).
* **report on change** — a usage change (license added, removed, count changed, 0 → ≥1 after the
  first use, ≥1 → 0) not yet covered by an ACK: due ``report_on_change`` days after the earliest
  such change of the class. Released classes count: the release is itself the change.

Only classes in use take part in the first two rules; changed classes (in use or released) in the
third. The deadline is the earliest candidate; no candidate means nothing is owed, which is also
the answer for a product that has never used a license.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import Policy
from smartlic.core.timefmt import DAY, HOUR, MINUTE, days_between

ALERT_OFFSETS_DAYS: tuple[int, ...] = (30, 0)
"""``%SMART_LIC-6-REPORTING_REQUIRED`` fires at X-30 days and at X (reference §2.1, §8)."""

ALERT_MNEMONIC = "REPORTING_REQUIRED"

DEFAULT_USAGE_INTERVAL_DAYS = 30
"""``license smart usage interval`` default: ``Reporting push interval: 30  days``."""

PUSH_MARGIN_DAYS = 7
"""How long before an ACK deadline the policy-driven push goes out (see ``next_push``)."""

FIRST_PUSH_DELAY = 2 * MINUTE
"""Devices schedule their first push two minutes after usage starts (genie S3 samples)."""

MIN_PUSH_RETRY = HOUR
OVERDUE_PUSH_RETRY = DAY


class Reason(StrEnum):
    FIRST_REPORT = "first report"
    REPORTING_FREQUENCY = "reporting frequency"
    REPORT_ON_CHANGE = "report on change"
    NOT_REQUIRED = "not required"


_REASON_RANK = {
    Reason.FIRST_REPORT: 0,
    Reason.REPORTING_FREQUENCY: 1,
    Reason.REPORT_ON_CHANGE: 2,
}
_CLASS_RANK = {c: i for i, c in enumerate(PolicyClass)}


def _check_time(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what}: expected integer epoch seconds, got {value!r}")


@dataclass(frozen=True, slots=True)
class PendingChange:
    """The unacknowledged usage changes of one class, as the span from the first to the last.

    The first change sets the deadline; the last one lets an ACK that covers only part of the
    span (reports closed before a later change) keep that later change pending.
    """

    first_at: int
    last_at: int

    def __post_init__(self) -> None:
        _check_time(self.first_at, "first_at")
        _check_time(self.last_at, "last_at")
        if self.last_at < self.first_at:
            raise ValueError("a pending change cannot end before it starts")

    @classmethod
    def at(cls, when: int) -> PendingChange:
        return cls(when, when)

    def extended(self, when: int) -> PendingChange:
        return PendingChange(min(self.first_at, when), max(self.last_at, when))


@dataclass(frozen=True)
class UsageState:
    """Everything the deadline rules look at; ``observe`` and ``acknowledge`` maintain it.

    * ``in_use`` — license count per class right now; absent or 0 = not in use.
    * ``first_use_at`` — the product's first license use ever; ``None`` = never used.
    * ``last_ack_at`` — the last ACK that acknowledged a *usage report*. An ACK that only carried a
      trust code or policy does not count (genie S3 golden 18: ACK received, no report pushed,
      deadline still first use + first report); one from before ``first_use_at`` is ignored for
      that reason. When the policy does not require ACKs, pass the time of the last successful
      report instead.
    * ``in_use_since`` — when each class in use last went from 0 to ≥1; absent = ``first_use_at``.
    * ``pending_changes`` — per class, the usage changes no ACK has covered yet.
    """

    policy: Policy
    in_use: Mapping[PolicyClass, int] = field(default_factory=dict)
    first_use_at: int | None = None
    last_ack_at: int | None = None
    in_use_since: Mapping[PolicyClass, int] = field(default_factory=dict)
    pending_changes: Mapping[PolicyClass, PendingChange] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("in_use", "in_use_since", "pending_changes"):
            unknown = [k for k in getattr(self, name) if k not in _CLASS_RANK]
            if unknown:
                raise ValueError(f"{name}: unknown license class(es) {unknown!r}")
        for policy_class, change in self.pending_changes.items():
            if not isinstance(change, PendingChange):
                raise ValueError(f"pending_changes[{policy_class}]: expected a PendingChange")
        for policy_class, count in self.in_use.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"in_use[{policy_class}]: expected a count >= 0, got {count!r}")
        for name in ("first_use_at", "last_ack_at"):
            value = getattr(self, name)
            if value is not None:
                _check_time(value, name)
        for policy_class, started in self.in_use_since.items():
            _check_time(started, f"in_use_since[{policy_class}]")
        in_use = {c: self.in_use[c] for c in PolicyClass if self.in_use.get(c, 0) > 0}
        if self.first_use_at is None and (in_use or self.pending_changes):
            raise ValueError("usage or usage changes without a first use time")
        since = {c: self.in_use_since[c] for c in in_use if c in self.in_use_since}
        pending = {c: self.pending_changes[c] for c in PolicyClass if c in self.pending_changes}
        object.__setattr__(self, "in_use", MappingProxyType(in_use))
        object.__setattr__(self, "in_use_since", MappingProxyType(since))
        object.__setattr__(self, "pending_changes", MappingProxyType(pending))

    def __hash__(self) -> int:
        return hash(
            (
                self.policy,
                tuple(self.in_use.items()),
                self.first_use_at,
                self.last_ack_at,
                tuple(self.in_use_since.items()),
                tuple(self.pending_changes.items()),
            )
        )

    @property
    def ever_used(self) -> bool:
        return self.first_use_at is not None

    def since(self, policy_class: PolicyClass) -> int | None:
        """When ``policy_class`` came into use (never before the product's first use)."""
        if self.first_use_at is None or policy_class not in self.in_use:
            return None
        return max(self.first_use_at, self.in_use_since.get(policy_class, self.first_use_at))


def observe(
    state: UsageState,
    counts: Mapping[PolicyClass, int],
    at: int,
    *,
    also_changed: Iterable[PolicyClass] = (),
) -> UsageState:
    """The state after usage became ``counts`` at ``at``.

    A class whose count differs is a change; ``also_changed`` adds classes whose count stayed the
    same but whose licenses did not (one perpetual license swapped for another). The first use
    ever starts the first-report clock and is not a change.
    """
    _check_time(at, "at")
    for policy_class, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"counts[{policy_class}]: expected a count >= 0, got {count!r}")
    new = {PolicyClass(c): n for c, n in counts.items() if n > 0}
    old = state.in_use
    if state.first_use_at is None:
        if not new:
            return state
        return UsageState(
            policy=state.policy,
            in_use=new,
            first_use_at=at,
            last_ack_at=state.last_ack_at,
            in_use_since=dict.fromkeys(new, at),
        )
    changed = {c for c in PolicyClass if old.get(c, 0) != new.get(c, 0)}
    for policy_class in also_changed:
        if policy_class not in _CLASS_RANK:
            raise ValueError(f"also_changed: unknown license class {policy_class!r}")
        changed.add(PolicyClass(policy_class))
    since = {c: state.in_use_since[c] for c in new if c in old and c in state.in_use_since}
    since.update({c: at for c in new if c not in old})
    pending = dict(state.pending_changes)
    for policy_class in changed:
        current = pending.get(policy_class)
        pending[policy_class] = PendingChange.at(at) if current is None else current.extended(at)
    return UsageState(
        policy=state.policy,
        in_use=new,
        first_use_at=state.first_use_at,
        last_ack_at=state.last_ack_at,
        in_use_since=since,
        pending_changes=pending,
    )


def acknowledge(state: UsageState, at: int, *, reported_until: int | None = None) -> UsageState:
    """The state after an ACK at ``at`` for usage reports covering usage up to ``reported_until``.

    Changes up to ``reported_until`` (default: ``at``) are covered. A class that also changed
    after it stays pending from its *last* change: the exact first uncovered change is not kept,
    and erring late keeps the rule "never earlier than the policy allows".
    """
    _check_time(at, "at")
    cutoff = at if reported_until is None else reported_until
    pending: dict[PolicyClass, PendingChange] = {}
    for policy_class, change in state.pending_changes.items():
        if change.last_at <= cutoff:
            continue
        pending[policy_class] = (
            change if change.first_at > cutoff else PendingChange.at(change.last_at)
        )
    last_ack = at if state.last_ack_at is None else max(state.last_ack_at, at)
    return UsageState(
        policy=state.policy,
        in_use=state.in_use,
        first_use_at=state.first_use_at,
        last_ack_at=last_ack,
        in_use_since=state.in_use_since,
        pending_changes=pending,
    )


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The outcome of the rules at one moment.

    ``rule_days`` is the policy value that set the deadline (what tech support prints as
    ``InPolicy(n)``), ``anchor`` the event it counts from, so alerts for a deadline created less
    than 30 days ahead can still be raised when it is created.
    """

    next_ack_deadline: int | None
    overdue: bool
    days_left: int | None
    reason: Reason
    rule_days: int | None = None
    anchor: int | None = None
    policy_class: PolicyClass | None = None

    def alerts(self, last_checked: int | None, now: int) -> list[Alert]:
        return alerts(self.next_ack_deadline, last_checked, now, set_at=self.anchor)


NOT_REQUIRED = Deadlines(
    next_ack_deadline=None, overdue=False, days_left=None, reason=Reason.NOT_REQUIRED
)


def compute(state: UsageState, now: int) -> Deadlines:
    """Apply the three rules (module docstring) and return the earliest deadline, if any."""
    _check_time(now, "now")
    first_use = state.first_use_at
    if first_use is None:
        return NOT_REQUIRED
    candidates: list[tuple[int, int, int, Reason, int, int, PolicyClass]] = []

    def consider(reason: Reason, policy_class: PolicyClass, anchor: int, days: int) -> None:
        if days > 0:
            candidates.append(
                (
                    anchor + days * DAY,
                    _REASON_RANK[reason],
                    _CLASS_RANK[policy_class],
                    reason,
                    days,
                    anchor,
                    policy_class,
                )
            )

    policy = state.policy
    # An ACK from before the first use acknowledged no usage (it came with a trust code or a
    # policy), so the first report is still owed: genie S3 golden 18 shows exactly that.
    acked = state.last_ack_at is not None and state.last_ack_at >= first_use
    for policy_class in state.in_use:
        since = max(first_use, state.in_use_since.get(policy_class, first_use))
        rules = policy.rule(policy_class)
        if not acked or state.last_ack_at is None:
            consider(Reason.FIRST_REPORT, policy_class, since, rules.first_report.value)
        else:
            anchor = max(state.last_ack_at, since)
            consider(
                Reason.REPORTING_FREQUENCY, policy_class, anchor, rules.reporting_frequency.value
            )
    for policy_class, change in state.pending_changes.items():
        days = policy.rule(policy_class).report_on_change.value
        consider(Reason.REPORT_ON_CHANGE, policy_class, change.first_at, days)
    if not candidates:
        return NOT_REQUIRED
    deadline, _, _, reason, days, anchor, policy_class = min(candidates)
    return Deadlines(
        next_ack_deadline=deadline,
        overdue=now > deadline,
        days_left=days_between(now, deadline),
        reason=reason,
        rule_days=days,
        anchor=anchor,
        policy_class=policy_class,
    )


@dataclass(frozen=True, slots=True)
class Alert:
    """One ``REPORTING_REQUIRED`` to raise: ``days`` fills ``[dec]``, ``at`` is when it was due."""

    at: int
    days: int
    offset_days: int


def alerts(
    deadline: int | None,
    last_checked: int | None,
    now: int,
    *,
    set_at: int | None = None,
    offsets_days: tuple[int, ...] = ALERT_OFFSETS_DAYS,
) -> list[Alert]:
    """The alerts due in ``(last_checked, now]``, oldest first.

    Alert points are ``deadline - offset`` days. A caller that checks rarely (or a lab that
    jumps a year) gets each point once, as long as it passes the ``now`` of its previous call as
    ``last_checked``. With ``set_at`` (when the deadline came to be), a point that was already
    past at that moment is raised at ``set_at`` instead of being lost, with the days then left;
    points that collapse onto the same moment are raised once, as the most urgent.
    """
    _check_time(now, "now")
    if deadline is None:
        return []
    by_time: dict[int, Alert] = {}
    for offset in sorted(offsets_days, reverse=True):
        point = deadline - offset * DAY
        if set_at is not None:
            point = max(point, set_at)
        if point > now or (last_checked is not None and point <= last_checked):
            continue
        by_time[point] = Alert(at=point, days=days_between(point, deadline), offset_days=offset)
    return [by_time[t] for t in sorted(by_time)]


def next_push(
    last_push_at: int | None,
    usage_interval_days: int,
    deadline: int | None,
    now: int,
    *,
    started_at: int | None = None,
    margin_days: int = PUSH_MARGIN_DAYS,
) -> int | None:
    """When to push the next usage report; never before ``now``, ``None`` if never needed.

    The configured interval (``license smart usage interval``, 0 = none) sets the cadence; the
    policy wins when stricter (reference §7.1): the push goes out ``margin_days`` before the
    deadline, or halfway between the last push and the deadline when that is closer, so a lost
    ACK still leaves time for retries (at most hourly). Once overdue, it retries daily. A product
    that never pushed pushes now, or ``FIRST_PUSH_DELAY`` after ``started_at`` as devices do.
    """
    _check_time(now, "now")
    if usage_interval_days < 0 or margin_days < 0:
        raise ValueError("usage interval and margin are days >= 0")
    if last_push_at is None:
        if usage_interval_days == 0 and deadline is None:
            return None
        first = now if started_at is None else started_at + FIRST_PUSH_DELAY
        return max(first, now)
    candidates: list[int] = []
    if usage_interval_days > 0:
        candidates.append(last_push_at + usage_interval_days * DAY)
    if deadline is not None:
        remaining = deadline - last_push_at
        if remaining > 0:
            policy_due = deadline - min(margin_days * DAY, remaining // 2)
            candidates.append(max(policy_due, last_push_at + MIN_PUSH_RETRY))
        else:
            candidates.append(last_push_at + OVERDUE_PUSH_RETRY)
    if not candidates:
        return None
    return max(min(candidates), now)
