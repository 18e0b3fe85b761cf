"""Plain records the agent hands to callers (the shell's ``show`` commands render them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from smartlic.core import sysmsg
from smartlic.core.timefmt import device_time
from smartlic.core.udi import Udi

EXPIRED = "Expired Not Rescheduled"


@dataclass(frozen=True)
class EventLogEntry:
    """One ``show license eventlog`` line: ``2021-11-17 03:31:32.921 UTC SAEVT_... k="v"``."""

    at_ms: int
    line: str


@dataclass(frozen=True)
class SyslogEntry:
    """One ``%SMART_LIC`` message as emitted."""

    at_ms: int
    mnemonic: str
    severity: int
    text: str

    def console_line(self, hostname: str | None = None) -> str:
        msg = sysmsg.SystemMessage(
            mnemonic=self.mnemonic,
            severity=sysmsg.Severity(self.severity),
            text=self.text,
            at_ms=self.at_ms,
        )
        return sysmsg.console_line(msg, hostname)


@dataclass(frozen=True)
class MessageRecord:
    """``show license history message``: the last request and response of one operation."""

    operation: str
    at: int
    request: str
    response: str


@dataclass(frozen=True)
class CommStats:
    """Communication statistics per operation (``show license tech support``)."""

    operation: str
    attempts: int
    success: int
    fail: int
    last_at: int | None
    last_response: str | None


@dataclass(frozen=True)
class ReportInfo:
    """One RUM report as ``show license rum id ... detail`` shows it."""

    report_id: int
    license: str
    state: str
    storage: str
    previous_report_id: int
    next_report_id: int
    start_time: int
    end_time: int | None
    count: int
    close_reason: str | None
    signing_type: str | None
    reported_at: int | None
    acked_at: int | None
    ack_id: str | None


@dataclass(frozen=True)
class UsageSummary:
    """The ``Usage Report Summary`` counters; see docs/instance.md for each definition."""

    total: int
    purged: int
    purged_unacked: int
    acknowledged: int
    waiting_for_ack: int
    unacknowledged: int
    available_to_report: int
    collecting: int
    in_storage: int
    mia: int
    mia_unacked: int = 0

    def lines(self) -> list[str]:
        return [
            "Usage Report Summary:",
            "=====================",
            f"Total: {self.total},  Purged: {self.purged}({self.purged_unacked})",
            f"Total Acknowledged Received: {self.acknowledged},  "
            f"Waiting for Ack: {self.waiting_for_ack}({self.unacknowledged})",
            f"Available to Report: {self.available_to_report}  Collecting Data: {self.collecting}",
            f"Maximum Display: {self.total}  In Storage: {self.in_storage},  "
            f"MIA: {self.mia}({self.mia_unacked})",
            "Report Module Status: Ready",
        ]


@dataclass(frozen=True)
class LicenseUse:
    """A license this product instance uses (``show license usage``)."""

    name: str
    entitlement_tag: str
    display_name: str
    count: int
    status: str
    """``IN USE``, ``NOT AUTHORIZED`` or ``NOT IN USE``."""
    enforcement: str
    policy_class: str
    since: int
    open_report: int | None


@dataclass(frozen=True)
class AuthorizationInfo:
    code_id: str
    confirmation_code: str
    installed_at: int
    licenses: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class TrustInfo:
    installed: bool
    installed_at: int | None = None
    smart_account: str | None = None
    virtual_account: str | None = None
    serial: int | None = None


@dataclass(frozen=True)
class ClockStatus:
    now: int
    latest_signed_time: int | None
    backwards: bool
    """True when the clock is before the latest signed time the instance accepted."""
    detected_at: int | None = None


@dataclass(frozen=True)
class ImportResult:
    """What ``import_file`` installed, in order, e.g. ``["ACK", "policy"]``, and the details."""

    installed: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.installed:
            return "Nothing was installed."
        return "Installed: " + ", ".join(self.installed)


@dataclass(frozen=True)
class TrustEntry:
    """The trust code of one UDI of the HA set (``Trust Code Installed:``)."""

    role: str
    """``Active``, ``Standby`` or ``Member``."""
    udi: Udi
    installed_at: int | None

    def lines(self) -> list[str]:
        """``  Active: PID:...,SN:...`` / ``    INSTALLED on <time>`` (or ``NOT INSTALLED``)."""
        state = (
            "NOT INSTALLED"
            if self.installed_at is None
            else f"INSTALLED on {device_time(self.installed_at)}"
        )
        return [f"  {self.role}: {self.udi}", f"    {state}"]


@dataclass(frozen=True)
class AuthorizationEntry:
    """``License Authorizations`` / ``Overall status:`` for one UDI of the HA set."""

    role: str
    udi: Udi
    installed_at: int | None
    """When the newest authorization code of this UDI was installed (None: NOT INSTALLED)."""
    confirmation_code: str | None
    licenses: tuple[tuple[str, int], ...] = ()
    """(license name, count) over the installed codes of this UDI."""
    return_pending: bool = False
    """An online return was sent and not yet confirmed (resent by the next return)."""

    def lines(self) -> list[str]:
        status = (
            "NOT INSTALLED"
            if self.installed_at is None
            else f"SMART AUTHORIZATION INSTALLED on {device_time(self.installed_at)}"
        )
        out = [f"  {self.role}: {self.udi}", f"      Status: {status}"]
        if self.confirmation_code is not None:
            out.append(f"      Last Confirmation code: {self.confirmation_code}")
        if self.return_pending:
            out.append("      Return: pending confirmation")
        return out


def _remaining(seconds: int) -> str:
    seconds = max(0, seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} days")
    if hours or days:
        parts.append(f"{hours} hours")
    if minutes or hours or days:
        parts.append(f"{minutes} minutes")
    parts.append(f"{secs} seconds")
    return ", ".join(parts)


@dataclass(frozen=True)
class ScheduledJob:
    """One line of ``Upcoming Scheduled Jobs`` (``show license tech support``, reference §9)."""

    name: str
    next_run: int | None
    """Epoch seconds, or None: ``Expired Not Rescheduled``."""
    interval: int | None = None
    """Seconds between runs for a periodic job; None for one-shot or event-driven jobs."""
    last_run: int | None = None
    description: str = ""

    def line(self, now: int) -> str:
        """``Daily: Oct 15 ... UTC (23 hours, 59 minutes, 12 seconds remaining)``."""
        if self.next_run is None:
            return f"{self.name}: {EXPIRED}"
        return (
            f"{self.name}: {device_time(self.next_run)} "
            f"({_remaining(self.next_run - now)} remaining)"
        )


@dataclass(frozen=True)
class UsageReporting:
    """The ``Usage Reporting:`` block of ``show license status``."""

    last_ack_received: int | None
    next_ack_deadline: int | None
    reporting_push_interval_days: int
    next_ack_push_check: int | None
    """When the pending result (``OK_POLL``) is polled next; None: nothing pending."""
    next_report_push: int | None
    last_report_push: int | None
    last_report_file_write: int | None

    def lines(self) -> list[str]:
        days = self.reporting_push_interval_days
        interval = f"{days}  days" if days else "0 (no reporting)"
        return [
            "Usage Reporting:",
            f"  Last ACK received: {device_time(self.last_ack_received)}",
            f"  Next ACK deadline: {device_time(self.next_ack_deadline)}",
            f"  Reporting push interval: {interval}",
            f"  Next ACK push check: {device_time(self.next_ack_push_check)}",
            f"  Next report push: {device_time(self.next_report_push)}",
            f"  Last report push: {device_time(self.last_report_push)}",
            f"  Last report file write: {device_time(self.last_report_file_write)}",
        ]
