"""Deadline engine: Next ACK deadline rules, REPORTING_REQUIRED alert points, push schedule.

Table cases come from device output in the reference (genie samples S1, S3, S4); the properties
check the engine against an independent replay of the same usage timeline.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartlic.core.deadlines import (
    ALERT_OFFSETS_DAYS,
    FIRST_PUSH_DELAY,
    NOT_REQUIRED,
    Alert,
    PendingChange,
    Reason,
    UsageState,
    acknowledge,
    alerts,
    compute,
    next_push,
    observe,
)
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import (
    CISCO_DEFAULT,
    MAX_DAYS,
    ClassOverrides,
    CustomPolicySpec,
    Policy,
    RuleDays,
    default_policy,
    merge,
)
from smartlic.core.timefmt import DAY, HOUR, device_time

P, S, E, X = (
    PolicyClass.UNENFORCED_PERPETUAL,
    PolicyClass.UNENFORCED_SUBSCRIPTION,
    PolicyClass.ENFORCED,
    PolicyClass.EXPORT,
)


def utc(*parts: int) -> int:
    return calendar.timegm((*parts, 0, 0, 0))


# Policies seen on devices: [S1] "Custom Policy" and the "SLE Policy" of the S4/genie samples.
S1_POLICY = merge(
    CISCO_DEFAULT,
    CustomPolicySpec(
        "Custom Policy",
        3,
        ack_required=True,
        rules={
            P: ClassOverrides(365, 0, 90),
            S: ClassOverrides(90, 90, 90),
            E: ClassOverrides(365, 90, 90),
            X: ClassOverrides(365, 90, 90),
        },
    ),
)
SLE_POLICY = merge(
    CISCO_DEFAULT,
    CustomPolicySpec(
        "SLE Policy",
        7,
        ack_required=True,
        rules={
            P: ClassOverrides(30, 60, 60),
            S: ClassOverrides(120, 111, 111),
            E: ClassOverrides(30, 90, 60),
            X: ClassOverrides(30, 30, 30),
        },
    ),
)


def used(policy: Policy, at: int, **counts: int) -> UsageState:
    """A product whose usage started at ``at`` with ``counts`` (class value → count)."""
    return observe(UsageState(policy), {PolicyClass(k): n for k, n in counts.items()}, at)


def deadline_text(state: UsageState, now: int) -> str:
    return device_time(compute(state, now).next_ack_deadline)


# --- the rules, from device samples ---------------------------------------------------------


def test_never_used_owes_nothing() -> None:
    state = UsageState(SLE_POLICY)
    assert compute(state, utc(2030, 1, 1, 0, 0, 0)) == NOT_REQUIRED
    assert not state.ever_used
    assert observe(state, {}, 100) == state
    assert observe(state, {P: 0}, 100) == state


def test_perpetual_only_on_the_default_first_report_in_365_days() -> None:
    # genie ShowLicenseTechSupport golden_output_3: network-essentials only, State(2) InPolicy(365).
    state = used(CISCO_DEFAULT, utc(2022, 4, 6, 13, 28, 3), unenforced_perpetual=3)
    result = compute(state, utc(2022, 5, 21, 7, 54, 6))
    assert device_time(result.next_ack_deadline) == "Apr 06 13:28:03 2023 UTC"
    assert result.reason is Reason.FIRST_REPORT
    assert str(result.reason) == "first report"
    assert result.rule_days == 365
    assert result.policy_class is P
    assert not result.overdue


def test_subscription_on_the_default_first_report_in_90_days() -> None:
    # genie golden_output_15: perpetual and subscription in use, Jul 29 2024 → Oct 27 2024.
    start = utc(2024, 7, 29, 17, 0, 51)
    state = used(CISCO_DEFAULT, start, unenforced_perpetual=2, unenforced_subscription=2)
    assert deadline_text(state, start) == "Oct 27 17:00:51 2024 UTC"
    assert compute(state, start).rule_days == 90


@pytest.mark.parametrize("counts", [{"enforced": 1}, {"export": 1}, {"enforced": 2, "export": 1}])
def test_enforced_and_export_on_the_default_owe_nothing(counts: dict[str, int]) -> None:
    state = used(CISCO_DEFAULT, 1_000_000, **counts)
    assert state.ever_used
    assert compute(state, 1_000_000 + 5000 * DAY).next_ack_deadline is None


def test_after_an_ack_reporting_frequency_90() -> None:
    # [S1]: Last ACK received Oct 14 12:10:32 2021 → Next ACK deadline Jan 12 12:10:32 2022.
    state = used(S1_POLICY, utc(2021, 10, 1, 0, 0, 0), unenforced_perpetual=2)
    state = observe(state, {P: 2, S: 2}, utc(2021, 10, 1, 0, 0, 0))
    ack = utc(2021, 10, 14, 12, 10, 32)
    result = compute(acknowledge(state, ack), ack)
    assert device_time(result.next_ack_deadline) == "Jan 12 12:10:32 2022 UTC"
    assert result.reason is Reason.REPORTING_FREQUENCY
    assert result.rule_days == 90
    assert result.days_left == 90


@pytest.mark.parametrize(
    ("ack", "expected"),
    [
        (utc(2021, 10, 8, 9, 0, 0), "Dec 07 09:00:00 2021 UTC"),  # reference §6.3 [S4]
        (utc(2022, 3, 22, 12, 19, 1), "May 21 12:19:01 2022 UTC"),  # genie golden_output_2
        (utc(2023, 12, 18, 11, 5, 11), "Feb 16 11:05:11 2024 UTC"),  # genie golden_output_12
    ],
)
def test_after_an_ack_custom_frequency_60(ack: int, expected: str) -> None:
    state = used(SLE_POLICY, ack - 10 * DAY, unenforced_perpetual=1, unenforced_subscription=1)
    assert deadline_text(acknowledge(state, ack), ack) == expected


def test_perpetual_only_with_frequency_0_owes_nothing_until_a_change() -> None:
    # genie ShowLicenseAll golden_output_4: 365/0/90, ACK received, Next ACK deadline <none>.
    start = utc(2025, 4, 23, 15, 0, 0)
    state = acknowledge(used(S1_POLICY, start, unenforced_perpetual=1), start + HOUR)
    assert compute(state, start + 400 * DAY).next_ack_deadline is None
    change = start + 200 * DAY
    changed = observe(state, {P: 2}, change)
    result = compute(changed, change)
    assert result.next_ack_deadline == change + 90 * DAY
    assert result.reason is Reason.REPORT_ON_CHANGE
    # The ACK for a report carrying the change clears it again.
    assert compute(acknowledge(changed, change + DAY), change + DAY).next_ack_deadline is None


def test_a_release_to_zero_is_a_change() -> None:
    start = 10 * DAY
    state = acknowledge(used(S1_POLICY, start, unenforced_perpetual=1), start + HOUR)
    released = observe(state, {}, start + 30 * DAY)
    assert released.in_use == {}
    assert released.pending_changes == {P: PendingChange.at(start + 30 * DAY)}
    result = compute(released, start + 30 * DAY)
    assert result.next_ack_deadline == start + 120 * DAY
    assert result.reason is Reason.REPORT_ON_CHANGE


def test_an_ack_that_came_before_any_usage_does_not_count() -> None:
    # genie golden_output_18: ACK with the policy Apr 22 05:01:33, no report pushed yet,
    # Next ACK deadline May 22 05:01:34 2025 (perpetual first report 30), State(2) InPolicy(30).
    ack = utc(2025, 4, 22, 5, 1, 33)
    state = acknowledge(UsageState(SLE_POLICY), ack)
    state = observe(state, {P: 1, S: 1}, ack + 1)
    result = compute(state, ack + 1)
    assert device_time(result.next_ack_deadline) == "May 22 05:01:34 2025 UTC"
    assert (result.reason, result.rule_days) == (Reason.FIRST_REPORT, 30)


def test_first_use_is_not_a_change() -> None:
    state = used(CISCO_DEFAULT, 5, unenforced_perpetual=1)
    assert state.pending_changes == {}
    assert state.first_use_at == 5


def test_a_class_added_before_the_first_ack_counts_from_when_it_was_added() -> None:
    state = used(CISCO_DEFAULT, 0, unenforced_perpetual=1)
    state = observe(state, {P: 1, S: 1}, 300 * DAY)
    result = compute(state, 300 * DAY)
    # Never "first use + 90" (already past): the subscription's clock starts when it is added.
    assert result.next_ack_deadline == 365 * DAY
    later = observe(used(CISCO_DEFAULT, 0, unenforced_perpetual=1), {P: 1, S: 1}, 100 * DAY)
    assert compute(later, 100 * DAY).next_ack_deadline == 190 * DAY


def test_a_class_added_after_an_ack_counts_from_when_it_was_added() -> None:
    state = acknowledge(used(SLE_POLICY, 0, unenforced_perpetual=1), DAY)
    state = observe(state, {P: 1, S: 1}, 50 * DAY)
    assert state.since(S) == 50 * DAY
    assert state.since(P) == 0
    # Perpetual frequency 60 from the ACK wins over the subscription's 50 + 111.
    result = compute(state, 50 * DAY)
    assert (result.next_ack_deadline, result.reason) == (61 * DAY, Reason.REPORTING_FREQUENCY)
    # Alone, the new subscription counts from day 50, not from the ACK on day 1.
    alone = acknowledge(used(SLE_POLICY, 0, enforced=1), DAY)
    alone = observe(alone, {E: 1, S: 1}, 50 * DAY)
    assert compute(alone, 50 * DAY).next_ack_deadline == DAY + 90 * DAY
    sub_only = merge(SLE_POLICY, CustomPolicySpec("S", 8, rules={E: ClassOverrides(0, 0, 0)}))
    alone = acknowledge(used(sub_only, 0, enforced=1), DAY)
    alone = observe(alone, {E: 1, S: 1}, 50 * DAY)
    assert compute(alone, 50 * DAY).next_ack_deadline == 161 * DAY


def test_count_changes_and_swaps_are_changes() -> None:
    state = acknowledge(used(S1_POLICY, 0, unenforced_perpetual=1), DAY)
    assert observe(state, {P: 1}, 2 * DAY).pending_changes == {}
    assert observe(state, {P: 3}, 2 * DAY).pending_changes == {P: PendingChange.at(2 * DAY)}
    swapped = observe(state, {P: 1}, 2 * DAY, also_changed=[P])
    assert swapped.pending_changes == {P: PendingChange.at(2 * DAY)}
    with pytest.raises(ValueError, match="also_changed"):
        observe(state, {P: 1}, 2 * DAY, also_changed=["gold"])  # type: ignore[list-item]


def test_the_earliest_unacknowledged_change_sets_the_deadline() -> None:
    state = acknowledge(used(S1_POLICY, 0, unenforced_perpetual=1), DAY)
    state = observe(state, {P: 2}, 10 * DAY)
    state = observe(state, {P: 3}, 40 * DAY)
    assert state.pending_changes == {P: PendingChange(10 * DAY, 40 * DAY)}
    assert compute(state, 40 * DAY).next_ack_deadline == 100 * DAY


def test_an_ack_covering_part_of_the_changes_keeps_the_later_one() -> None:
    state = acknowledge(used(S1_POLICY, 0, unenforced_perpetual=1), DAY)
    state = observe(state, {P: 2}, 10 * DAY)
    state = observe(state, {P: 3}, 40 * DAY)
    state = observe(state, {P: 3, S: 1}, 45 * DAY)
    # Reports closed at day 20 are acknowledged on day 50.
    acked = acknowledge(state, 50 * DAY, reported_until=20 * DAY)
    assert acked.pending_changes == {P: PendingChange.at(40 * DAY), S: PendingChange.at(45 * DAY)}
    assert acked.last_ack_at == 50 * DAY
    assert compute(acked, 50 * DAY).next_ack_deadline == 130 * DAY


def test_an_older_ack_does_not_move_last_ack_back() -> None:
    state = acknowledge(used(S1_POLICY, 0, unenforced_subscription=1), 50 * DAY)
    assert acknowledge(state, 40 * DAY).last_ack_at == 50 * DAY


def test_zero_means_not_required_for_every_rule() -> None:
    zero = default_policy(dict.fromkeys(PolicyClass, RuleDays(0, 0, 0)))
    state = used(zero, 0, unenforced_perpetual=1, unenforced_subscription=1)
    state = observe(state, {S: 1}, DAY)
    assert state.pending_changes == {P: PendingChange.at(DAY)}
    assert compute(state, DAY) == NOT_REQUIRED
    assert compute(acknowledge(state, 2 * DAY), 2 * DAY) == NOT_REQUIRED


@pytest.mark.parametrize(
    ("offset", "overdue", "days_left"),
    [
        (-DAY - 1, False, 2),
        (-DAY, False, 1),
        (-1, False, 1),
        (0, False, 0),
        (1, True, 0),
        (DAY, True, -1),
        (DAY + 1, True, -1),
        (400 * DAY, True, -400),
    ],
)
def test_overdue_and_days_left(offset: int, overdue: bool, days_left: int) -> None:
    state = used(CISCO_DEFAULT, 0, unenforced_subscription=1)
    deadline = 90 * DAY
    result = compute(state, deadline + offset)
    assert result.next_ack_deadline == deadline
    assert (result.overdue, result.days_left) == (overdue, days_left)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_use": {P: 1}},
        {"pending_changes": {P: PendingChange.at(1)}},
        {"in_use": {P: -1}, "first_use_at": 0},
        {"in_use": {P: True}, "first_use_at": 0},
        {"first_use_at": True},
        {"first_use_at": 0, "last_ack_at": "1"},
        {"first_use_at": 0, "in_use": {P: 1}, "in_use_since": {P: 1.5}},
        {"first_use_at": 0, "in_use": {"gold": 1}},
        {"first_use_at": 0, "pending_changes": {P: 5}},
    ],
)
def test_usage_state_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - one ValueError per kind of nonsense
        UsageState(CISCO_DEFAULT, **kwargs)


def test_observe_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="count"):
        observe(UsageState(CISCO_DEFAULT), {P: -1}, 0)
    with pytest.raises(ValueError):  # noqa: PT011 - the enum's own message
        observe(UsageState(CISCO_DEFAULT), {"gold": 1}, 0)  # type: ignore[dict-item]


def test_pending_change_cannot_run_backwards() -> None:
    with pytest.raises(ValueError, match="end before"):
        PendingChange(5, 4)


def test_usage_state_drops_zero_counts_and_is_hashable() -> None:
    state = UsageState(CISCO_DEFAULT, in_use={P: 1, S: 0}, first_use_at=0, in_use_since={S: 3})
    assert state.in_use == {P: 1}
    assert state.in_use_since == {}
    assert state.since(S) is None
    assert hash(state) == hash(UsageState(CISCO_DEFAULT, in_use={P: 1}, first_use_at=0))


def test_now_must_be_integer_seconds() -> None:
    with pytest.raises(ValueError, match="now"):
        compute(UsageState(CISCO_DEFAULT), 1.5)  # type: ignore[arg-type]


# --- alerts ---------------------------------------------------------------------------------

X_TIME = utc(2023, 4, 6, 13, 28, 3)


def test_alert_offsets_are_data() -> None:
    assert ALERT_OFFSETS_DAYS == (30, 0)


def test_alerts_at_x_minus_30_and_x_once_each_when_now_jumps_past_both() -> None:
    now = X_TIME + 365 * DAY
    due = alerts(X_TIME, None, now)
    assert due == [Alert(X_TIME - 30 * DAY, 30, 30), Alert(X_TIME, 0, 0)]
    assert alerts(X_TIME, now, now + DAY) == []


def test_no_alert_before_x_minus_30() -> None:
    assert alerts(X_TIME, None, X_TIME - 30 * DAY - 1) == []
    assert alerts(X_TIME, None, X_TIME - 30 * DAY) == [Alert(X_TIME - 30 * DAY, 30, 30)]


def test_daily_checks_raise_each_alert_on_its_day() -> None:
    raised: list[tuple[int, Alert]] = []
    last = None
    for now in range(X_TIME - 100 * DAY, X_TIME + 100 * DAY, DAY // 3):
        raised.extend((now, a) for a in alerts(X_TIME, last, now))
        last = now
    assert [a.days for _, a in raised] == [30, 0]
    assert all(0 <= now - a.at < DAY // 3 for now, a in raised)


def test_no_alert_without_usage() -> None:
    assert alerts(None, None, X_TIME) == []
    assert compute(UsageState(CISCO_DEFAULT), X_TIME).alerts(None, X_TIME + 9999 * DAY) == []
    only_enforced = used(CISCO_DEFAULT, 0, enforced=1)
    assert compute(only_enforced, 0).alerts(None, 9999 * DAY) == []


def test_a_deadline_set_inside_the_window_alerts_when_it_is_set() -> None:
    custom = merge(CISCO_DEFAULT, CustomPolicySpec("Short", 1, rules={P: ClassOverrides(0, 0, 10)}))
    state = acknowledge(used(custom, 0, unenforced_perpetual=1), DAY)
    change = 100 * DAY + 7
    result = compute(observe(state, {P: 2}, change), change)
    assert result.next_ack_deadline == change + 10 * DAY
    assert result.anchor == change
    # The X-30 point is long gone when the change happens: raised at once, with the days left.
    assert result.alerts(change - 1, change) == [Alert(change, 10, 30)]
    assert result.alerts(change, change + 10 * DAY) == [Alert(change + 10 * DAY, 0, 0)]


def test_a_deadline_already_past_when_set_alerts_once() -> None:
    due = alerts(100 * DAY, None, 200 * DAY, set_at=150 * DAY)
    assert due == [Alert(150 * DAY, -50, 0)]


def test_custom_offsets() -> None:
    due = alerts(X_TIME, None, X_TIME, offsets_days=(0, 60, 30))
    assert [a.days for a in due] == [60, 30, 0]


@given(
    st.integers(0, 2**34),
    st.lists(st.integers(-500 * DAY, 500 * DAY), min_size=1, max_size=40),
)
def test_alerts_exactly_once_whatever_the_check_times(deadline: int, offsets: list[int]) -> None:
    checks = sorted(deadline + o for o in offsets)
    seen: list[Alert] = []
    last = None
    for now in checks:
        new = alerts(deadline, last, now)
        assert all(last is None or a.at > last for a in new)
        assert all(a.at <= now for a in new)
        seen.extend(new)
        last = now
    assert seen == alerts(deadline, None, checks[-1])
    assert len({a.offset_days for a in seen}) == len(seen)
    expected = [o for o in ALERT_OFFSETS_DAYS if deadline - o * DAY <= checks[-1]]
    assert [a.offset_days for a in seen] == expected


# --- next push ------------------------------------------------------------------------------


def test_push_every_interval_when_the_policy_allows() -> None:
    # genie golden_output_12: last push Dec 18 11:00:18, next Jan 17 11:00:18, deadline Feb 16.
    last = utc(2023, 12, 18, 11, 0, 18)
    deadline = utc(2024, 2, 16, 11, 5, 11)
    assert device_time(next_push(last, 30, deadline, last)) == "Jan 17 11:00:18 2024 UTC"


def test_first_push_two_minutes_after_usage_starts() -> None:
    # genie golden_output_15: usage Jul 29 17:00:51, "Next report push: Jul 29 17:02:51".
    start = utc(2024, 7, 29, 17, 0, 51)
    deadline = start + 90 * DAY
    assert next_push(None, 30, deadline, start, started_at=start) == start + FIRST_PUSH_DELAY
    assert next_push(None, 30, deadline, start + DAY, started_at=start) == start + DAY
    assert next_push(None, 30, deadline, start) == start


def test_the_policy_wins_when_stricter() -> None:
    last = 1000 * DAY
    assert next_push(last, 90, last + 60 * DAY, last) == last + 53 * DAY
    # Closer deadlines: halfway there, so a lost ACK still leaves room to retry.
    assert next_push(last, 30, last + 4 * DAY, last) == last + 2 * DAY
    # Never sooner than an hour after the last push.
    assert next_push(last, 30, last + HOUR, last) == last + HOUR


def test_overdue_retries_daily() -> None:
    last = 1000 * DAY
    assert next_push(last, 30, last - DAY, last) == last + DAY
    assert next_push(last, 30, last, last) == last + DAY


def test_no_push_when_nothing_asks_for_one() -> None:
    # genie ShowLicenseAll golden_output_4: "Reporting push interval: 0 (no reporting)",
    # "Next report push: <none>".
    assert next_push(5, 0, None, 10) is None
    assert next_push(None, 0, None, 10) is None
    assert next_push(None, 0, 100 * DAY, 10) == 10
    assert next_push(5, 0, 100 * DAY, 10) == 100 * DAY - 7 * DAY


def test_a_late_scheduler_pushes_now() -> None:
    assert next_push(0, 30, None, 365 * DAY) == 365 * DAY


def test_push_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="days"):
        next_push(0, -1, None, 0)
    with pytest.raises(ValueError, match="now"):
        next_push(0, 30, None, None)  # type: ignore[arg-type]


@given(
    st.none() | st.integers(0, 2**33),
    st.integers(0, 365),
    st.none() | st.integers(0, 2**33),
    st.integers(0, 2**33),
)
def test_push_is_never_in_the_past_nor_later_than_the_interval(
    last: int | None, interval: int, deadline: int | None, now: int
) -> None:
    due = next_push(last, interval, deadline, now)
    if due is None:
        assert interval == 0 and deadline is None
        return
    assert due >= now
    if last is not None and interval:
        assert due <= max(now, last + interval * DAY)


# --- properties over usage timelines --------------------------------------------------------

days = st.integers(0, MAX_DAYS)
tables = st.fixed_dictionaries({c: st.builds(RuleDays, days, days, days) for c in PolicyClass})
count_maps = st.dictionaries(st.sampled_from(PolicyClass), st.integers(0, 3), max_size=4)
steps = st.lists(
    st.tuples(st.integers(0, 200 * DAY), st.none() | count_maps),  # None = an ACK
    max_size=12,
)


def replay(
    policy: Policy, events: Sequence[tuple[int, dict[PolicyClass, int] | None]]
) -> UsageState:
    state = UsageState(policy)
    now = 0
    for gap, counts in events:
        now += gap
        state = acknowledge(state, now) if counts is None else observe(state, counts, now)
    return state


def oracle(
    policy: Policy, events: Sequence[tuple[int, dict[PolicyClass, int] | None]]
) -> int | None:
    """The rules restated over the raw timeline, without the engine's bookkeeping."""
    now = 0
    first_use: int | None = None
    last_ack: int | None = None
    usage: dict[PolicyClass, int] = {}
    since: dict[PolicyClass, int] = {}
    changes: list[tuple[int, PolicyClass]] = []
    for gap, counts in events:
        now += gap
        if counts is None:
            last_ack = now
            changes = []
            continue
        new = {c: n for c, n in counts.items() if n}
        if first_use is None and new:
            first_use = now
        elif first_use is not None:
            changes += [(now, c) for c in PolicyClass if usage.get(c, 0) != new.get(c, 0)]
        since = {c: since.get(c, now) if c in usage else now for c in new}
        usage = new
    if first_use is None:
        return None
    acked = last_ack is not None and last_ack >= first_use
    found: list[int] = []
    for cls in usage:
        rules = policy.rule(cls)
        if not acked:
            days_ = rules.first_report.value
            found += [since[cls] + days_ * DAY] if days_ else []
        else:
            assert last_ack is not None
            days_ = rules.reporting_frequency.value
            found += [max(last_ack, since[cls]) + days_ * DAY] if days_ else []
    for at, cls in changes:
        days_ = policy.rule(cls).report_on_change.value
        found += [at + days_ * DAY] if days_ else []
    return min(found, default=None)


@given(tables, steps, st.integers(0, 2**33), st.integers(0, 2**33))
def test_engine_matches_the_rules_and_ignores_now(
    table: dict[PolicyClass, RuleDays], events: Any, now_a: int, now_b: int
) -> None:
    policy = default_policy(table)
    state = replay(policy, events)
    a, b = compute(state, now_a), compute(state, now_b)
    assert a.next_ack_deadline == b.next_ack_deadline == oracle(policy, events)
    assert (a.reason, a.rule_days, a.anchor) == (b.reason, b.rule_days, b.anchor)


@given(tables, steps, st.integers(0, 2**33))
def test_deadline_is_never_earlier_than_a_rule_allows(
    table: dict[PolicyClass, RuleDays], events: Any, now: int
) -> None:
    policy = default_policy(table)
    state = replay(policy, events)
    result = compute(state, now)
    if result.next_ack_deadline is None:
        assert result == NOT_REQUIRED
        return
    assert state.first_use_at is not None
    assert result.anchor is not None and result.rule_days is not None
    assert result.policy_class is not None
    assert result.anchor >= state.first_use_at
    assert result.rule_days >= 1
    assert result.next_ack_deadline == result.anchor + result.rule_days * DAY
    nonzero = [d for row in table.values() for d in row if d]
    assert result.next_ack_deadline >= state.first_use_at + min(nonzero) * DAY
    rules = policy.rule(result.policy_class)
    expected_days = {
        Reason.FIRST_REPORT: rules.first_report.value,
        Reason.REPORTING_FREQUENCY: rules.reporting_frequency.value,
        Reason.REPORT_ON_CHANGE: rules.report_on_change.value,
    }[result.reason]
    assert result.rule_days == expected_days
    assert result.overdue == (now > result.next_ack_deadline)


@given(tables, steps)
def test_never_used_means_no_deadline(table: dict[PolicyClass, RuleDays], events: Any) -> None:
    acks_only = [(gap, None) for gap, _ in events]
    state = replay(default_policy(table), acks_only)
    assert not state.ever_used
    assert compute(state, 10**10) == NOT_REQUIRED
