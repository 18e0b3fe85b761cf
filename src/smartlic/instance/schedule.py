"""The agent's scheduled jobs (``Upcoming Scheduled Jobs`` of ``show license tech support``).

``tick()`` runs what is due: the hourly "Save unreported RUM Reports" checkpoint, the daily
housekeeping, then the reporting work of :class:`ReportingMixin` (alerts, result polls, the
scheduled push). :meth:`ScheduleMixin.scheduled_jobs` lists every job the reference names
(§9) with its next run time, or ``None`` (``Expired Not Rescheduled``) for jobs that are not
scheduled on this instance, so the shell can print the block as a device does.
"""

from __future__ import annotations

from smartlic.core import deadlines
from smartlic.core.timefmt import DAY, device_time
from smartlic.instance.files import FilesMixin
from smartlic.instance.meter import CHECKPOINT_INTERVAL, CHECKPOINT_KEY
from smartlic.instance.records import AuthorizationEntry, ScheduledJob, UsageReporting

__all__ = ["JOB_NAMES", "ScheduleMixin", "scheduled_job_lines"]

JOB_RUNS_KEY = "job_runs"
SCHEDULED_JOBS_TITLE = "Upcoming Scheduled Jobs"

DAILY = "Daily"
INIT_FLAG_CHECK = "Init Flag Check"
START_UTILITY = "Start Utility Measurements"
SEND_UTILITY = "Send Utility RUM reports"
PROCESS_UTILITY = "Process Utility RUM reports"
SAVE_RUM = "Save unreported RUM Reports"
AUTHORIZATION_PROCESS = "Authorization Code Process"
DATA_SYNC = "Data Synchronization"
EXTERNAL_EVENT = "External Event"
OPERATIONAL_MODEL = "Operational Model"
HA_MISMATCH = "Reservation configuration mismatch between nodes in HA mode"
RETRIEVE_RESULT = "Retrieve data processing result"
TELEMETRY = "Telemetry Reporting"

JOB_NAMES = (
    DAILY,
    INIT_FLAG_CHECK,
    HA_MISMATCH,
    RETRIEVE_RESULT,
    START_UTILITY,
    SEND_UTILITY,
    SAVE_RUM,
    PROCESS_UTILITY,
    TELEMETRY,
    AUTHORIZATION_PROCESS,
    DATA_SYNC,
    EXTERNAL_EVENT,
    OPERATIONAL_MODEL,
)
"""Every job of ``Upcoming Scheduled Jobs``, in the order a 17.x device lists them (reference
genie-golden ``ShowLicenseTechSupport`` outputs 14 and 15)."""


def scheduled_job_lines(now: int, jobs: list[ScheduledJob]) -> list[str]:
    """The device layout of ``Upcoming Scheduled Jobs`` for ``jobs`` at ``now``."""
    return [
        SCHEDULED_JOBS_TITLE,
        "=" * len(SCHEDULED_JOBS_TITLE),
        f"Current time: {device_time(now)}",
        *(job.line(now) for job in jobs),
    ]


class ScheduleMixin(FilesMixin):
    # --- running -----------------------------------------------------------------------------

    def _job_runs(self) -> dict[str, int]:
        return dict(self.store.get(JOB_RUNS_KEY, {}))

    def _ran(self, name: str, at: int) -> None:
        runs = self._job_runs()
        runs[name] = at
        self.store.put(JOB_RUNS_KEY, runs)

    def _next_checkpoint(self) -> int:
        last = self.store.get(CHECKPOINT_KEY)
        base = last if last is not None else self.started_at()
        return int(base) + CHECKPOINT_INTERVAL

    def _next_daily(self) -> int:
        last = self._job_runs().get(DAILY)
        base = last if last is not None else self.started_at()
        return int(base) + DAY

    def started_at(self) -> int:
        """When this instance first started (``show version`` uptime counts from here)."""
        return int(self.store.get("started_at", self.clock.now()))

    def _has_open_reports(self) -> bool:
        return bool(self.store.scalar("SELECT 1 FROM reports WHERE state = 'OPEN' LIMIT 1"))

    def tick(self) -> list[str]:
        """Run what is due now: the checkpoint and daily jobs, alerts, polls, the scheduled push.

        Returns what it did that a log should show (``REPORTING_REQUIRED n``, ``poll``, ``push``,
        or what failed); the routine jobs show in :meth:`scheduled_jobs` (last and next run).
        """
        now = self.clock.now()
        checkpoint, daily = self._next_checkpoint() <= now, self._next_daily() <= now
        if checkpoint or daily:
            with self.store.tx():  # one commit for the routine jobs
                if checkpoint:
                    self.checkpoint_reports()
                if daily:
                    self._purge()
                    self._ran(DAILY, now)
        return super().tick()

    def next_wakeup(self) -> int:
        """When ``tick`` next has something to do (at most a day away)."""
        now = self.clock.now()
        candidates = [super().next_wakeup(), self._next_daily()]
        if self._has_open_reports():
            candidates.append(self._next_checkpoint())
        return max(min(candidates), now + 1)

    def close(self) -> None:
        """Stop: a clean stop records the time, so the next start closes reports at it."""
        if getattr(self, "_running", False):
            self.checkpoint_reports()
            self._running = False
        super().close()

    # --- what the shell shows ----------------------------------------------------------------

    def scheduled_jobs(self) -> list[ScheduledJob]:
        """Every job of ``Upcoming Scheduled Jobs`` with its next run (None: expired)."""
        now = self.clock.now()
        runs = self._job_runs()
        pending = self.store.get("pending_poll")
        result = self.deadlines()
        external = None
        if result.next_ack_deadline is not None:
            points = [
                result.next_ack_deadline - offset * DAY
                for offset in deadlines.ALERT_OFFSETS_DAYS
                if result.next_ack_deadline - offset * DAY > now
            ]
            external = min(points) if points else None
        started = self.started_at()
        jobs = {
            DAILY: ScheduledJob(
                DAILY, self._next_daily(), DAY, runs.get(DAILY), "storage limits, purge of ACKed"
            ),
            INIT_FLAG_CHECK: ScheduledJob(
                INIT_FLAG_CHECK, None, None, started, "once at start (reload)"
            ),
            START_UTILITY: ScheduledJob(START_UTILITY, None, None, None, "utility mode is off"),
            SEND_UTILITY: ScheduledJob(SEND_UTILITY, None, None, None, "utility mode is off"),
            PROCESS_UTILITY: ScheduledJob(PROCESS_UTILITY, None, None, None, "utility mode is off"),
            SAVE_RUM: ScheduledJob(
                SAVE_RUM,
                self._next_checkpoint() if self._has_open_reports() else None,
                CHECKPOINT_INTERVAL,
                self.store.get(CHECKPOINT_KEY),
                "checkpoint of the OPEN reports: a crash loses at most one interval",
            ),
            AUTHORIZATION_PROCESS: ScheduledJob(
                AUTHORIZATION_PROCESS,
                None,
                None,
                None,
                f"{len(self.pending_returns())} authorization return(s) pending",
            ),
            DATA_SYNC: ScheduledJob(
                DATA_SYNC,
                self.next_report_push(),
                self.config.usage_interval_days * DAY or None,
                self.store.get("last_push_at"),
                "usage report push (license smart sync)",
            ),
            EXTERNAL_EVENT: ScheduledJob(
                EXTERNAL_EVENT, external, None, None, "REPORTING_REQUIRED reminder"
            ),
            OPERATIONAL_MODEL: ScheduledJob(OPERATIONAL_MODEL, None),
            HA_MISMATCH: ScheduledJob(HA_MISMATCH, None),
            RETRIEVE_RESULT: ScheduledJob(
                RETRIEVE_RESULT,
                None if pending is None else int(pending["at"]),
                None,
                None,
                "result poll after OK_POLL",
            ),
            TELEMETRY: ScheduledJob(TELEMETRY, None, None, None, "telemetry is off"),
        }
        return [jobs[name] for name in JOB_NAMES]

    def scheduled_job_lines(self) -> list[str]:
        """``Upcoming Scheduled Jobs`` exactly as ``show license tech support`` prints it.

        The one renderer of the block: the shell prints these lines as they are::

            Upcoming Scheduled Jobs
            =======================
            Current time: Feb 27 11:18:56 2024 UTC
            Daily: Feb 28 10:45:20 2024 UTC (23 hours, 26 minutes, 24 seconds remaining)
            Init Flag Check: Expired Not Rescheduled
        """
        return scheduled_job_lines(self.clock.now(), self.scheduled_jobs())

    def usage_reporting(self) -> UsageReporting:
        """The ``Usage Reporting:`` block of ``show license status``."""
        pending = self.store.get("pending_poll")
        last_ack = self.store.get("last_ack")
        return UsageReporting(
            last_ack_received=None if last_ack is None else int(last_ack["at"]),
            next_ack_deadline=self.deadlines().next_ack_deadline,
            reporting_push_interval_days=self.config.usage_interval_days,
            next_ack_push_check=None if pending is None else int(pending["at"]),
            next_report_push=self.next_report_push(),
            last_report_push=self.store.get("last_push_at"),
            last_report_file_write=self.store.get("last_report_file_write"),
        )

    def authorization_status(self) -> list[AuthorizationEntry]:
        """``License Authorizations`` / ``Overall status``: one entry per UDI of the HA set."""
        rows = self._artifact_rows("slac")
        pending = self.pending_returns()
        codes = self.authorization_codes()
        out = []
        for member in self.identity.ha_set.members:
            mine = [(c, r) for c, r in zip(codes, rows, strict=True) if c.udi == member.udi]
            totals: dict[str, int] = {}
            for code, _ in mine:
                for item in code.licenses:
                    totals[item.license_name] = totals.get(item.license_name, 0) + item.count
            newest = mine[-1] if mine else None
            out.append(
                AuthorizationEntry(
                    member.role.value,
                    member.udi,
                    None if newest is None else int(newest[1]["installed_at"]),
                    None if newest is None else newest[0].confirmation_code,
                    tuple(sorted(totals.items())),
                    any(code.code_id in pending for code, _ in mine),
                )
            )
        return out
