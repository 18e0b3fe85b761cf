"""Plain records the agent hands to callers (the shell's ``show`` commands render them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from smartlic.core import sysmsg


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
