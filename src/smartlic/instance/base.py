"""The agent's plumbing: state folder, identity and key, configuration, clock, records.

The behaviour lives in mixins (``meter``, ``install``, ``reporting``, ``files``) that all build on
:class:`AgentBase`; :class:`smartlic.instance.agent.Agent` puts them together.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from smartlic.core import sysmsg, timefmt
from smartlic.core.artifacts import AuthorizationCode, PolicyGrant, TrustCode
from smartlic.core.catalog import Catalog, default_catalog
from smartlic.core.envelope import Envelope
from smartlic.core.errors import ConfigurationError, SignatureMismatchError
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import Verifier
from smartlic.core.policy import CISCO_DEFAULT, Policy
from smartlic.core.udi import HaSet, Udi
from smartlic.instance.clock import Clock, SystemClock
from smartlic.instance.records import (
    ClockStatus,
    CommStats,
    EventLogEntry,
    MessageRecord,
    SyslogEntry,
    TrustEntry,
    TrustInfo,
)
from smartlic.instance.store import StateStore, Store

DEFAULT_CSLU_URL = "http://cslu-local:8182/cslu/v1/pi"
DEFAULT_SMART_URL = "https://smartreceiver.cisco.com/licservice/license"
DEFAULT_CALLHOME_URL = "https://tools.cisco.com/its/service/oddce/services/DDCEService"
CALLHOME_PROFILE = "CiscoTAC-1"
TRANSPORTS = ("cslu", "smart", "off", "callhome", "automatic")
"""Configured transports. ``callhome`` (legacy) carries the ``smart`` protocol to the Call Home
profile's destination (``callhome_url``); ``automatic`` picks ``cslu`` when a CSLU URL is
configured, else ``smart``. :meth:`Config.effective_transport` resolves both."""
MAX_LOG_ROWS = 20_000
"""Event log and syslog lines kept (oldest dropped first)."""


@dataclass(frozen=True)
class Identity:
    """Who this product instance is. ``ha`` lists Active/Standby/Member UDIs when stacked."""

    udi: Udi
    hostname: str = "Router"
    software_version: str = "17.09.02"
    ha: HaSet | None = None

    @property
    def ha_set(self) -> HaSet:
        return self.ha if self.ha is not None else HaSet.standalone(self.udi)

    def to_json(self) -> dict[str, Any]:
        return {
            "udi": str(self.udi),
            "hostname": self.hostname,
            "software_version": self.software_version,
            "ha": str(self.ha) if self.ha is not None else None,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Identity:
        return cls(
            udi=Udi.parse(obj["udi"]),
            hostname=obj["hostname"],
            software_version=obj["software_version"],
            ha=HaSet.parse(obj["ha"]) if obj.get("ha") else None,
        )


@dataclass(frozen=True)
class Config:
    """``license smart ...`` configuration."""

    transport: str = "cslu"
    cslu_url: str = DEFAULT_CSLU_URL
    smart_url: str = DEFAULT_SMART_URL
    usage_interval_days: int = 30
    privacy_hostname: bool = False
    privacy_version: bool = False
    customer_tags: tuple[str, ...] = ()
    proxy: str | None = None
    vrf: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    callhome_url: str = DEFAULT_CALLHOME_URL
    """Destination of the Call Home profile ``CiscoTAC-1`` (``transport callhome``)."""

    def effective_transport(self) -> str:
        """How this configuration communicates: ``cslu``, ``smart`` or ``off``."""
        if self.transport == "callhome":
            return "smart"
        if self.transport == "automatic":
            return "cslu" if self.cslu_url != DEFAULT_CSLU_URL else "smart"
        return self.transport

    def endpoint_url(self) -> str | None:
        """Where messages go (None when the transport is off)."""
        if self.transport == "callhome":
            return self.callhome_url
        return {"cslu": self.cslu_url, "smart": self.smart_url}.get(self.effective_transport())

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["customer_tags"] = list(self.customer_tags)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Config:
        obj = dict(obj)
        obj["customer_tags"] = tuple(obj.get("customer_tags", ()))
        return cls(**obj)


class AgentBase:
    """State, identity, configuration and records; no licensing behaviour."""

    def __init__(
        self,
        state_dir: str | Path,
        identity: Identity | None = None,
        *,
        clock: Clock | None = None,
        anchor: Envelope | None = None,
        catalog: Catalog | None = None,
        default_policy: Policy = CISCO_DEFAULT,
        http_client: Any = None,
        keep_acked: int = 100,
        max_stored: int = 1000,
        on_message: Callable[[SyslogEntry], None] | None = None,
        store: StateStore | None = None,
    ) -> None:
        # A fleet (the lab) passes a view of its shared database; a device has its own file.
        self.store: StateStore = store if store is not None else Store(Path(state_dir))
        self.catalog = catalog if catalog is not None else default_catalog()
        self.default_policy = default_policy
        self.http_client = http_client
        self.keep_acked = keep_acked
        self.max_stored = max_stored
        self.on_message = on_message
        self._running = False
        """Set by ``start()``: a read-only look never writes (not even on close)."""
        if clock is None:
            clock = SystemClock(offset=int(self.store.get("clock_offset", 0)))
        self.clock = clock
        self.identity = self._load_identity(identity)
        self.key = self._load_key()
        self.verifier = self._load_verifier(anchor)
        self.clock.subscribe(self._clock_changed)

    # --- identity, key, authority keys -------------------------------------------------------

    def _load_identity(self, given: Identity | None) -> Identity:
        stored = self.store.get("identity")
        if stored is None:
            if given is None:
                raise ConfigurationError("a new state folder needs an identity (at least a UDI)")
            self.store.put("identity", given.to_json())
            return given
        identity = Identity.from_json(stored)
        if given is not None and given.udi != identity.udi:
            raise ConfigurationError(
                f"this state folder belongs to {identity.udi}, not {given.udi}",
                hint="Use another --state folder for another product instance.",
            )
        if given is not None and given != identity:
            self.store.put("identity", given.to_json())
            return given
        return identity

    def _load_key(self) -> SigningKey:
        raw = self.store.read_key()
        recorded = self.store.get("key_id")
        if raw is None:
            if recorded is not None:
                raise ConfigurationError(
                    f"the identity key file {self.store.key_path} is missing; reports and the "
                    "trust code are bound to it",
                    hint="Restore the key file from a backup, or start a new state folder.",
                )
            key = SigningKey.generate()
            self.store.write_key(key.raw())
        else:
            key = SigningKey.from_raw(raw)
        if recorded is None:
            self.store.put("key_id", key.key_id)
        elif recorded != key.key_id:
            raise ConfigurationError("the identity key file does not match this state folder")
        return key

    def _load_verifier(self, anchor: Envelope | None) -> Verifier | None:
        stored = self.store.get("anchor")
        if stored is None and anchor is not None:
            verifier = Verifier.from_anchor(anchor)
            self.store.put("anchor", anchor.to_json())
            return verifier
        if stored is None:
            return None
        verifier = Verifier.from_anchor(Envelope.from_json(stored))
        chain = [
            Envelope.from_json(json.loads(row["envelope"]))
            for row in self.store.rows(
                "SELECT envelope FROM artifacts WHERE kind = 'keyset' ORDER BY id"
            )
        ]
        if chain:
            verifier.update(chain)
        return verifier

    def require_verifier(self) -> Verifier:
        if self.verifier is None:
            raise SignatureMismatchError(
                "no authority key set is provisioned on this product instance",
                hint="Start the instance with --authority-keys (the authority's key set file).",
            )
        return self.verifier

    @property
    def udi(self) -> Udi:
        return self.identity.udi

    def close(self) -> None:
        self.clock.unsubscribe(self._clock_changed)
        self.store.close()

    # --- configuration -----------------------------------------------------------------------

    @property
    def config(self) -> Config:
        stored = self.store.get("config")
        return Config() if stored is None else Config.from_json(stored)

    def configure(self, **changes: Any) -> Config:
        """Change configuration (``transport``, ``cslu_url``, ``usage_interval_days``, ...)."""
        config = replace(self.config, **changes)
        if config.transport not in TRANSPORTS:
            raise ConfigurationError(
                f"transport must be one of {', '.join(TRANSPORTS)}, not {config.transport!r}"
            )
        for name in ("cslu_url", "smart_url", "callhome_url"):
            url = getattr(config, name)
            if not url.startswith(("http://", "https://")):
                raise ConfigurationError(f"{name} must be an http:// or https:// URL: {url!r}")
        if not 0 <= config.usage_interval_days <= 3650:
            raise ConfigurationError("usage interval must be 0..3650 days")
        if len(config.customer_tags) > 4:
            raise ConfigurationError("at most 4 customer tags")
        self.store.put("config", config.to_json())
        return config

    # --- records -----------------------------------------------------------------------------

    def _emit(self, mnemonic: str, *args: str | int) -> SyslogEntry:
        msg = sysmsg.emit(mnemonic, *args, at_ms=self.clock.now_ms())
        cursor = self.store.execute(
            "INSERT INTO syslog (at_ms, mnemonic, severity, text) VALUES (?, ?, ?, ?)",
            (msg.at_ms, msg.mnemonic, int(msg.severity), msg.text),
        )
        self._trim("syslog", cursor.lastrowid)
        entry = SyslogEntry(msg.at_ms, msg.mnemonic, int(msg.severity), msg.text)
        if self.on_message is not None:
            self.on_message(entry)
        return entry

    def _event(self, event_name: str, **fields: str | int) -> None:
        at_ms = self.clock.now_ms()
        attrs = "".join(f' {k}="{v}"' for k, v in fields.items())
        line = f"{timefmt.eventlog_time(at_ms)} {event_name}{attrs}"
        cursor = self.store.execute("INSERT INTO events (at_ms, line) VALUES (?, ?)", (at_ms, line))
        self._trim("events", cursor.lastrowid)

    def _trim(self, table: str, last_id: int | None) -> None:
        """Keep the newest ``MAX_LOG_ROWS`` lines (the event log has a size limit on devices).

        Counted by rows, not by id arithmetic: in a fleet store ids are shared by many agents."""
        if last_id is not None and last_id % 500 == 0:
            self.store.execute(
                f"DELETE FROM {table} WHERE id <= "  # noqa: S608 (two fixed table names)
                f"(SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (MAX_LOG_ROWS,),
            )

    def syslog(self, mnemonic: str | None = None) -> list[SyslogEntry]:
        """The ``%SMART_LIC`` lines emitted so far, oldest first (optionally one mnemonic)."""
        sql = "SELECT at_ms, mnemonic, severity, text FROM syslog"
        params: tuple[Any, ...] = ()
        if mnemonic is not None:
            sql += " WHERE mnemonic = ?"
            params = (mnemonic,)
        rows = self.store.rows(sql + " ORDER BY id", params)
        return [SyslogEntry(r["at_ms"], r["mnemonic"], r["severity"], r["text"]) for r in rows]

    def eventlog(self, days: int | None = None) -> list[EventLogEntry]:
        since = -(2**62) if days is None else (self.clock.now() - days * timefmt.DAY) * 1000
        rows = self.store.rows(
            "SELECT at_ms, line FROM events WHERE at_ms >= ? ORDER BY id", (since,)
        )
        return [EventLogEntry(r["at_ms"], r["line"]) for r in rows]

    def message_history(self) -> list[MessageRecord]:
        rows = self.store.rows("SELECT * FROM history ORDER BY operation")
        return [MessageRecord(r["operation"], r["at"], r["request"], r["response"]) for r in rows]

    def comm_stats(self) -> list[CommStats]:
        rows = self.store.rows("SELECT * FROM stats ORDER BY operation")
        return [
            CommStats(
                r["operation"],
                r["attempts"],
                r["success"],
                r["fail"],
                r["last_at"],
                r["last_response"],
            )
            for r in rows
        ]

    def _record_exchange(self, operation: str, request: str, response: str, ok: bool) -> None:
        now = self.clock.now()
        cap = 65_536
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO history (operation, at, request, response) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (operation) DO UPDATE SET at = excluded.at, "
                "request = excluded.request, response = excluded.response",
                (operation, now, request[:cap], response[:cap]),
            )
            db.execute(
                "INSERT INTO stats (operation, attempts, success, fail, last_at, last_response) "
                "VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT (operation) DO UPDATE SET "
                "attempts = attempts + 1, success = success + excluded.success, "
                "fail = fail + excluded.fail, last_at = excluded.last_at, "
                "last_response = excluded.last_response",
                (operation, int(ok), int(not ok), now, response[:200]),
            )

    # --- clock -------------------------------------------------------------------------------

    def set_clock(self, epoch: int) -> None:
        """``clock set``: moves this instance's clock (persisted for a system clock)."""
        self.clock.set(epoch)

    def _clock_changed(self, old: int, new: int) -> None:
        if isinstance(self.clock, SystemClock):
            self.store.put("clock_offset", self.clock.offset)
        self._emit("SYSTEM_CLOCK_CHANGED")
        self._event("SAEVT_SYSTEM_CLOCK_CHANGED", old=timefmt.iso(old), new=timefmt.iso(new))
        self._check_clock()

    def _check_clock(self) -> bool:
        """Record (once per episode) the clock being before the latest accepted signed time."""
        now = self.clock.now()
        latest = self.store.get("latest_signed_time")
        backwards = latest is not None and now < latest
        detected = self.store.get("clock_backwards")
        if backwards and detected is None:
            self.store.put("clock_backwards", {"at": now, "latest": latest})
            self._event("SAEVT_CLOCK_BACKWARDS", clock=timefmt.iso(now), latest=timefmt.iso(latest))
        elif not backwards and detected is not None:
            self.store.delete("clock_backwards")
        return backwards

    def _accepted_signed_time(self, issued_at: int) -> None:
        latest = self.store.get("latest_signed_time")
        if latest is None or issued_at > latest:
            self.store.put("latest_signed_time", issued_at)

    def clock_status(self) -> ClockStatus:
        latest = self.store.get("latest_signed_time")
        now = self.clock.now()
        detected = self.store.get("clock_backwards")
        return ClockStatus(
            now=now,
            latest_signed_time=latest,
            backwards=latest is not None and now < latest,
            detected_at=None if detected is None else detected["at"],
        )

    # --- installed artifacts (reads) ---------------------------------------------------------

    def _artifact_rows(self, kind: str, *, active: bool = True) -> list[Any]:
        return self.store.rows(
            "SELECT * FROM artifacts WHERE kind = ? AND active = ? ORDER BY id",
            (kind, int(active)),
        )

    def _installed(self, kind: str) -> tuple[Envelope, Any, int] | None:
        rows = self._artifact_rows(kind)
        if not rows:
            return None
        row = rows[-1]
        envelope = Envelope.from_json(json.loads(row["envelope"]))
        return envelope, envelope.payload_json(), row["installed_at"]

    def _trust_rows(self) -> list[tuple[TrustCode, int, int]]:
        """Active trust codes as (code, installed_at, row id), oldest first."""
        out = []
        for row in self._artifact_rows("trust_code"):
            payload = json.loads(json.loads(row["envelope"])["payload"])
            out.append((TrustCode.from_json(payload), row["installed_at"], row["id"]))
        return out

    def trust_codes(self) -> dict[Udi, tuple[TrustCode, int]]:
        """Installed trust codes per UDI of the HA set: ``{udi: (code, installed_at)}``."""
        return {code.udi: (code, at) for code, at, _ in self._trust_rows()}

    def trust_code(self, udi: Udi | None = None) -> TrustCode | None:
        """The trust code of ``udi`` (default: this instance, the Active UDI)."""
        found = self.trust_codes().get(self.udi if udi is None else udi)
        return None if found is None else found[0]

    def trust_info(self, udi: Udi | None = None) -> TrustInfo:
        found = self.trust_codes().get(self.udi if udi is None else udi)
        if found is None:
            return TrustInfo(installed=False)
        code, installed_at = found
        account = code.account
        return TrustInfo(
            True, installed_at, account.smart_account, account.virtual_account, code.serial
        )

    def trust_status(self) -> list[TrustEntry]:
        """One entry per UDI of the HA set (Active, Standby, Members), installed or not."""
        codes = self.trust_codes()
        return [
            TrustEntry(
                member.role.value,
                member.udi,
                codes[member.udi][1] if member.udi in codes else None,
            )
            for member in self.identity.ha_set.members
        ]

    def trust_lines(self) -> list[str]:
        """``Trust Code Installed:`` as ``show license status`` prints it (reference §4)."""
        entries = self.trust_status()
        if self.identity.ha is None:
            return [f"Trust Code Installed: {timefmt.device_time(entries[0].installed_at)}"]
        return ["Trust Code Installed:", *(line for e in entries for line in e.lines())]

    @property
    def policy_grant(self) -> PolicyGrant | None:
        found = self._installed("policy")
        return None if found is None else PolicyGrant.from_json(found[1])

    @property
    def policy(self) -> Policy:
        grant = self.policy_grant
        return self.default_policy if grant is None else grant.policy

    def policy_installed_at(self) -> int | None:
        found = self._installed("policy")
        return None if found is None else found[2]

    def authorization_codes(self, udi: Udi | None = None) -> list[AuthorizationCode]:
        """Installed authorization codes, for every UDI of the HA set (or only ``udi``)."""
        codes = [
            AuthorizationCode.from_json(json.loads(json.loads(r["envelope"])["payload"]))
            for r in self._artifact_rows("slac")
        ]
        return [c for c in codes if udi is None or c.udi == udi]
