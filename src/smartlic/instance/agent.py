"""The product-instance agent: everything a device does in SLP, as a library (docs/instance.md).

::

    agent = Agent.open("state/", Identity(Udi.parse("PID:C9300-24UX,SN:FCW2303D16Y")),
                       anchor=authority_keyset_envelope)
    agent.use("network-advantage")
    agent.sync()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartlic.core.policy import display_lines
from smartlic.core.timefmt import iso
from smartlic.instance.base import Config, Identity
from smartlic.instance.files import FilesMixin
from smartlic.instance.records import UsageSummary

__all__ = ["Agent", "Config", "Identity", "Status"]


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
        }


class Agent(FilesMixin):
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
        self._emit("AGENT_READY")
        self._emit("AGENT_ENABLED")
        self._check_clock()

    def close(self) -> None:
        self.store.close()

    def status(self) -> Status:
        config = self.config
        url = {"cslu": config.cslu_url, "smart": config.smart_url}.get(config.transport)
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
        )
