"""A simulated year on a manual clock: deadlines, alerts at X-30 and X exactly once, ACKs,
report on change, the push schedule."""

from __future__ import annotations

from collections.abc import Callable

from smartlic.core.timefmt import DAY
from smartlic.instance import Agent, ManualClock
from tests.instance.mini_authority import T0, UDI, MiniAuthority


def _run(agent: Agent, clock: ManualClock, days: int, step: int = DAY) -> list[str]:
    lines: list[str] = []
    end = clock.now() + days * DAY
    while clock.now() < end:
        clock.advance(step)
        lines.extend(agent.tick())
    return lines


def _alerts(agent: Agent) -> list[tuple[int, str]]:
    return [((m.at_ms // 1000 - T0) // DAY, m.text) for m in agent.syslog("REPORTING_REQUIRED")]


def test_perpetual_first_report_in_365_days_alerts_once(agent: Agent, clock: ManualClock) -> None:
    agent.configure(transport="off")
    agent.use("network-advantage")
    result = agent.deadlines()
    assert result.next_ack_deadline == T0 + 365 * DAY
    assert result.reason.value == "first report"
    _run(agent, clock, 400)
    alerts = _alerts(agent)
    assert alerts == [
        (
            335,
            "%SMART_LIC-6-REPORTING_REQUIRED: A Usage report acknowledgement will be required "
            "in 30 days.",
        ),
        (
            365,
            "%SMART_LIC-6-REPORTING_REQUIRED: A Usage report acknowledgement will be required "
            "in 0 days.",
        ),
    ]
    assert agent.deadlines().overdue


def test_subscription_first_report_in_90_days(agent: Agent, clock: ManualClock) -> None:
    agent.configure(transport="off")
    agent.use("dna-advantage")
    assert agent.deadlines().next_ack_deadline == T0 + 90 * DAY
    _run(agent, clock, 95)
    assert [d for d, _ in _alerts(agent)] == [60, 90]


def test_alerts_survive_restart_exactly_once(
    agent: Agent, make_agent: Callable[..., Agent], clock: ManualClock
) -> None:
    agent.configure(transport="off")
    agent.use("dna-advantage")
    _run(agent, clock, 70)
    agent.close()
    again = make_agent()
    _run(again, clock, 30)
    assert [d for d, _ in _alerts(again)] == [60, 90]


def test_deadline_after_ack_and_report_on_change(
    agent: Agent, clock: ManualClock, authority: MiniAuthority
) -> None:
    agent.configure(transport="off")
    agent.use("dna-advantage")
    clock.advance(10 * DAY)
    agent.close_reports()
    authority.now = clock.now()
    agent.install_ack(authority.make_ack(UDI, [e for _, e in agent.unacked_reports()]))
    # subscription: reporting frequency 90 days from the ACK
    assert agent.deadlines().next_ack_deadline == clock.now() + 90 * DAY
    assert agent.deadlines().reason.value == "reporting frequency"
    clock.advance(5 * DAY)
    changed_at = clock.now()
    agent.use("network-advantage")  # a perpetual license added: a change of that class
    result = agent.deadlines()
    assert result.next_ack_deadline == changed_at + 85 * DAY  # the 90-day frequency still wins
    assert agent.usage_state().pending_changes


def test_scheduled_push_over_a_year_keeps_deadlines_met(
    make_agent: Callable[..., Agent], clock: ManualClock, authority: MiniAuthority
) -> None:
    import httpx

    from smartlic.instance.transport import HttpTransport

    def handler(request: httpx.Request) -> httpx.Response:
        from smartlic.core.protocol import Request as Msg

        authority.now = clock.now()
        return httpx.Response(200, content=authority.answer(Msg.parse(request.content)).to_bytes())

    agent = make_agent(http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    agent.use("dna-advantage")
    lines = _run(agent, clock, 365, step=6 * 3600)
    pushes = [line for line in lines if line == "push"]
    assert 12 <= len(pushes) <= 15  # every 30 days (usage interval) plus the first push
    assert agent.syslog("REPORTING_REQUIRED") == []
    assert not agent.deadlines().overdue
    summary = agent.usage_summary()
    assert summary.unacknowledged == 0
    assert summary.acknowledged == summary.total
    assert len(authority.received) == len(set(authority.received)) == summary.total
    assert isinstance(agent.transport(), HttpTransport)
