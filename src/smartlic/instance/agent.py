"""The product-instance agent: everything a device does in SLP, as a library (docs/instance.md).

::

    agent = Agent.open("state/", Identity(Udi.parse("PID:C9300-24UX,SN:FCW2303D16Y")),
                       anchor=authority_keyset_envelope)
    agent.use("network-advantage")
    agent.sync()
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smartlic.core.errors import ConfigurationError
from smartlic.core.policy import display_lines
from smartlic.core.timefmt import iso
from smartlic.instance.base import Config, Identity
from smartlic.instance.meter import CHECKPOINT_KEY
from smartlic.instance.records import (
    AuthorizationEntry,
    ScheduledJob,
    TrustEntry,
    UsageReporting,
    UsageSummary,
)
from smartlic.instance.schedule import ScheduleMixin

__all__ = ["Agent", "Config", "Identity", "Status"]

RESET_KV_KEYS = (
    "account",
    "alerts_checked_at",
    "clock_backwards",
    "comm_failed",
    "last_ack",
    "last_push_at",
    "last_report_file_write",
    "pending_poll",
    "pending_returns",
    "push_retry_at",
    "trust_nonces",
    "usage_state",
    CHECKPOINT_KEY,
)
"""Licensing data that ``factory_reset`` wipes from the key/value store. Kept: the identity and
its key, the authority anchor and key set chain, the configuration, the clock offset, the start
time, the latest signed time (clock roll-back detection) and the last report id (report ids
never repeat, so the authority never sees one twice)."""


@dataclass(frozen=True)
class Status:
    """A snapshot for ``show license status``-like output and ``smartlic instance status``."""

    udi: str
    hostname: str
    transport: str
    url: str | None
    trust_installed: bool
    policy_name: str | None
    policy_lines: list[str]
    next_ack_deadline: int | None
    next_report_push: int | None
    last_ack_at: int | None
    summary: UsageSummary
    licenses: list[dict[str, Any]]
    clock_backwards: bool
    usage_reporting: UsageReporting | None = None
    """``Usage Reporting:`` (last ACK, next push, ``Next ACK push check``, last file write)."""
    trust: tuple[TrustEntry, ...] = ()
    """One entry per UDI of the HA set (Active first)."""
    trust_lines: tuple[str, ...] = ()
    """``Trust Code Installed:`` as the device prints it."""
    authorizations: tuple[AuthorizationEntry, ...] = ()
    jobs: tuple[ScheduledJob, ...] = ()
    ha_udis: tuple[str, ...] = ()
    """``Role:PID:...,SN:...`` for each member of an HA set; empty when standalone."""
    now: int = 0

    @property
    def last_report_push(self) -> int | None:
        return None if self.usage_reporting is None else self.usage_reporting.last_report_push

    @property
    def last_report_file_write(self) -> int | None:
        ur = self.usage_reporting
        return None if ur is None else ur.last_report_file_write

    @property
    def next_ack_push_check(self) -> int | None:
        return None if self.usage_reporting is None else self.usage_reporting.next_ack_push_check

    def to_json(self) -> dict[str, Any]:
        return {
            "udi": self.udi,
            "hostname": self.hostname,
            "transport": self.transport,
            "url": self.url,
            "trust_installed": self.trust_installed,
            "policy_name": self.policy_name,
            "next_ack_deadline": None
            if self.next_ack_deadline is None
            else iso(self.next_ack_deadline),
            "next_report_push": None
            if self.next_report_push is None
            else iso(self.next_report_push),
            "last_ack_at": None if self.last_ack_at is None else iso(self.last_ack_at),
            "summary": self.summary.__dict__,
            "licenses": self.licenses,
            "clock_backwards": self.clock_backwards,
            "usage_reporting": None
            if self.usage_reporting is None
            else {
                key: (
                    value if key == "reporting_push_interval_days" or value is None else iso(value)
                )
                for key, value in self.usage_reporting.__dict__.items()
            },
            "trust": [
                {
                    "role": e.role,
                    "udi": str(e.udi),
                    "installed_at": None if e.installed_at is None else iso(e.installed_at),
                }
                for e in self.trust
            ],
            "authorizations": [
                {
                    "role": a.role,
                    "udi": str(a.udi),
                    "installed_at": None if a.installed_at is None else iso(a.installed_at),
                    "confirmation_code": a.confirmation_code,
                    "licenses": dict(a.licenses),
                    "return_pending": a.return_pending,
                }
                for a in self.authorizations
            ],
            "scheduled_jobs": [
                {"name": j.name, "next_run": None if j.next_run is None else iso(j.next_run)}
                for j in self.jobs
            ],
            "ha_udis": list(self.ha_udis),
        }


class Agent(ScheduleMixin):
    """One product instance. Construct with :meth:`open`; see docs/instance.md."""

    @classmethod
    def open(cls, state_dir: str | Path, identity: Identity | None = None, **options: Any) -> Agent:
        """Open (or create) the state folder and start: reports open before a reload close."""
        agent = cls(state_dir, identity, **options)
        agent.start()
        return agent

    def start(self) -> None:
        first = self.store.get("started_at") is None
        now = self.clock.now()
        with self.store.tx():
            if first:
                self.store.put("started_at", now)
            self._event("SAEVT_INIT_START", udi=str(self.udi))
            self._reload()
        self._running = True
        self._emit("AGENT_READY")
        self._emit("AGENT_ENABLED")
        self._check_clock()

    def status(self) -> Status:
        config = self.config
        url = config.endpoint_url()
        grant = self.policy_grant
        result = self.deadlines()
        return Status(
            udi=str(self.udi),
            hostname=self.identity.hostname,
            transport=config.transport,
            url=url,
            trust_installed=self.trust_code() is not None,
            policy_name=None if grant is None else grant.policy.name,
            policy_lines=display_lines(self.policy, self.policy_installed_at()),
            next_ack_deadline=result.next_ack_deadline,
            next_report_push=self.next_report_push(),
            last_ack_at=self.usage_state().last_ack_at,
            summary=self.usage_summary(),
            licenses=[u.__dict__ for u in self.licenses_in_use()],
            clock_backwards=self.clock_status().backwards,
            usage_reporting=self.usage_reporting(),
            trust=tuple(self.trust_status()),
            trust_lines=tuple(self.trust_lines()),
            authorizations=tuple(self.authorization_status()),
            jobs=tuple(self.scheduled_jobs()),
            ha_udis=()
            if self.identity.ha is None
            else tuple(str(m) for m in self.identity.ha.members),
            now=self.clock.now(),
        )

    # --- identity and maintenance (reference §7.2) -------------------------------------------

    def set_hostname(self, hostname: str) -> Identity:
        """``hostname X``: persisted; new RUM reports carry it (unless ``privacy hostname``)."""
        name = hostname.strip()
        if not name or len(name) > 63 or any(c.isspace() for c in name):
            raise ConfigurationError(f"invalid hostname {hostname!r}")
        if name == self.identity.hostname:
            return self.identity
        identity = replace(self.identity, hostname=name)
        with self.store.tx():
            self.store.put("identity", identity.to_json())
            self._event("SAEVT_HOSTNAME_CHANGED", hostname=name)
        self.identity = identity
        return identity

    def clear_eventlog(self) -> None:
        """``license smart clear eventlog``: empties the licensing event log (not syslog)."""
        with self.store.tx():
            self.store.execute("DELETE FROM events")

    def factory_reset(self) -> None:
        """``license smart factory reset``: wipe the licensing data (the trusted store).

        Gone, in one transaction (a crash leaves all of it or none): RUM reports, the installed
        policy, trust codes, authorization codes, ACKs and every other artifact, message history
        and communication statistics, pending polls/returns and the usage-reporting timestamps.
        Kept: the identity (UDI, hostname, key), the authority anchor and its key set chain, the
        configuration, the event log (which records the reset) and the report-id counter.
        Licenses still in use get fresh reports at once, under the default policy; a device
        needs a reload for this, the agent applies it immediately.
        """
        with self.store.tx():
            now = self.clock.now()
            self.store.execute("DELETE FROM artifacts WHERE kind != 'keyset'")
            self.store.execute("DELETE FROM reports")
            self.store.execute("UPDATE usage SET open_report = NULL, since = ?", (now,))
            self.store.execute("DELETE FROM history")
            self.store.execute("DELETE FROM stats")
            for key in RESET_KV_KEYS:
                self.store.delete(key)
            for row in self.store.rows("SELECT * FROM usage ORDER BY license"):
                lic = self.catalog.get(row["license"])
                if self.authorized(lic, row["count"]):
                    self._open(lic.name, row["count"], now)
            self._observe(now, also_changed=set())
            self._event("SAEVT_FACTORY_RESET", udi=str(self.udi))
        self._emit("AGENT_READY")
        self._emit("AGENT_ENABLED")

    def communication_failure(self) -> dict[str, Any] | None:
        """The ongoing communication failure (``{"peer", "at"}``), or None."""
        found = self.store.get("comm_failed")
        return None if found is None else dict(found)
