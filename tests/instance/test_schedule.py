"""Scheduled jobs as data (``Upcoming Scheduled Jobs``), the hourly "Save unreported RUM Reports"
checkpoint (a crash loses at most one interval), and the ``Usage Reporting`` block (last report
file write, next ACK push check)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from smartlic.instance import Agent, ManualClock
from smartlic.instance.records import EXPIRED
from smartlic.instance.schedule import JOB_NAMES, SAVE_RUM
from smartlic.instance.store import FAULT_EXIT
from tests.instance.mini_authority import T0, MiniAuthority
from tests.instance.test_crash import _child

HOUR = 3600
DAY = 86_400


def _jobs(agent: Agent) -> dict[str, int | None]:
    return {job.name: job.next_run for job in agent.scheduled_jobs()}


def test_every_job_of_the_reference_is_listed(agent: Agent, clock: ManualClock) -> None:
    jobs = _jobs(agent)
    assert list(jobs) == list(JOB_NAMES)
    for name in (
        "Daily",
        "Init Flag Check",
        "Start Utility Measurements",
        "Send Utility RUM reports",
        "Process Utility RUM reports",
        "Save unreported RUM Reports",
        "Authorization Code Process",
        "Data Synchronization",
        "External Event",
        "Operational Model",
        "Retrieve data processing result",
    ):
        assert name in jobs
    assert jobs["Daily"] == T0 + DAY
    assert jobs[SAVE_RUM] is None  # nothing OPEN: nothing to checkpoint
    assert jobs["Init Flag Check"] is None
    lines = agent.scheduled_job_lines()
    # the device layout (reference ShowLicenseTechSupport outputs), one renderer for the shell
    assert lines[:3] == [
        "Upcoming Scheduled Jobs",
        "=======================",
        "Current time: Nov 14 22:13:20 2023 UTC",
    ]
    assert f"Init Flag Check: {EXPIRED}" in lines
    assert (
        "Daily: Nov 15 22:13:20 2023 UTC (1 days, 0 hours, 0 minutes, 0 seconds remaining)" in lines
    )
    assert [line.split(":")[0] for line in lines[3:]] == list(JOB_NAMES)
    agent.use("network-advantage")
    assert _jobs(agent)[SAVE_RUM] == T0 + HOUR
    line = next(j for j in agent.scheduled_jobs() if j.name == SAVE_RUM).line(clock.now())
    assert line == (
        "Save unreported RUM Reports: Nov 14 23:13:20 2023 UTC "
        "(1 hours, 0 minutes, 0 seconds remaining)"
    )
    # the external event is the next REPORTING_REQUIRED point: 365 - 30 days after first use
    assert _jobs(agent)["External Event"] == T0 + 335 * DAY
    assert _jobs(agent)["Data Synchronization"] == agent.next_report_push()


def test_checkpoint_runs_hourly_from_tick(agent: Agent, clock: ManualClock) -> None:
    agent.configure(transport="off")
    agent.use("network-advantage")
    assert agent.next_wakeup() == T0 + HOUR
    clock.advance(HOUR)
    agent.tick()
    saved = next(j for j in agent.scheduled_jobs() if j.name == SAVE_RUM)
    assert saved.last_run == T0 + HOUR and saved.next_run == T0 + 2 * HOUR


def test_a_crash_loses_at_most_one_checkpoint_interval(
    make_agent: Callable[..., Agent], clock: ManualClock, tmp_path: Path
) -> None:
    agent = make_agent()
    agent.configure(transport="off")  # no push (which would close reports) in the child
    agent.use("network-advantage")
    agent.close()
    state = tmp_path / "state"
    # the child starts at T0 (its reload reopens the report), ticks every 15 minutes for
    # 2.5 hours (checkpoints at +1 h and +2 h), then loses power
    assert _child(state, "", "run", str(T0), str(9000)) == FAULT_EXIT
    clock.advance(10 * HOUR)  # down for hours before the restart
    again = make_agent(state)
    reloaded = [r for r in again.reports("CLOSED") if r.close_reason == "Reload"]
    last = max(reloaded, key=lambda r: r.report_id)
    assert last.start_time == T0
    assert last.end_time == T0 + 2 * HOUR  # the last checkpoint, not the restart time
    envelope = again.report_envelope(last.report_id)
    assert envelope is not None
    assert envelope.payload_json()["measurements"][0]["num_samples"] == 8


def test_a_clean_stop_closes_at_the_stop_time(
    make_agent: Callable[..., Agent], clock: ManualClock, tmp_path: Path
) -> None:
    agent = make_agent()
    agent.use("network-advantage")
    first = agent.licenses_in_use()[0].open_report
    clock.advance(HOUR + 900)
    agent.close()
    clock.advance(DAY)
    again = make_agent(tmp_path / "state")
    closed = again.report(first)
    assert closed is not None and closed.end_time == T0 + HOUR + 900
    # a read-only look (``smartlic instance status``) writes nothing, not even on close
    second = again.licenses_in_use()[0].open_report
    again.close()
    clock.advance(HOUR)
    look = Agent(tmp_path / "state", clock=clock)
    look.close()
    third = make_agent(tmp_path / "state")
    assert third.report(second).end_time == clock.now() - HOUR


def test_usage_reporting_block(
    make_agent: Callable[..., Agent],
    clock: ManualClock,
    served: str,
    authority: MiniAuthority,
    tmp_path: Path,
) -> None:
    agent = make_agent()
    agent.configure(transport="cslu", cslu_url=f"{served}/cslu/v1/pi")
    block = agent.usage_reporting()
    assert block.last_report_file_write is None and block.next_ack_push_check is None
    agent.use("network-advantage")
    clock.advance(HOUR)
    assert agent.save_usage(tmp_path / "usage.xml", "unreported") == 1
    status = agent.status()
    assert status.last_report_file_write == T0 + HOUR
    assert status.to_json()["usage_reporting"]["last_report_file_write"] == ("2023-11-14T23:13:20Z")
    assert "  Last report file write: Nov 14 23:13:20 2023 UTC" in agent.usage_reporting().lines()
    authority.mode = "poll"
    clock.advance(HOUR)
    result = agent.sync()
    assert result.status == "OK_POLL"
    reporting = agent.usage_reporting()
    assert reporting.next_ack_push_check == result.poll_at == clock.now() + HOUR
    assert reporting.last_report_push == clock.now()
    assert agent.status().next_ack_push_check == result.poll_at
    assert _jobs(agent)["Retrieve data processing result"] == result.poll_at
    lines = reporting.lines()
    assert lines[0] == "Usage Reporting:"
    assert lines[3] == "  Reporting push interval: 30  days"
    assert lines[4].startswith("  Next ACK push check: ") and "<none>" not in lines[4]
    clock.advance(HOUR)
    agent.tick()  # the poll gets the ACK
    assert agent.usage_reporting().next_ack_push_check is None
    assert agent.usage_reporting().last_ack_received == clock.now()
