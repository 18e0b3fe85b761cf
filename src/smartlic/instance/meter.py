"""Metering: licenses in use, RUM reports (OPEN → CLOSED → ACK), chains, storage, counters.

Each authorized license in use has one OPEN report, sampled every 15 minutes (the count is
constant between changes, since every change closes the report, so the samples are exact). A
report closes on report time (sync, save usage, close-reports), on a usage change and on reload;
the next one chains to it per license. Closing signs the RUM payload with the instance key:
``builtin`` before a trust code, ``trust`` after.
"""

from __future__ import annotations

import json
from typing import Any

from smartlic.core import deadlines
from smartlic.core.artifacts import Measurement, RumReport, payload_digest
from smartlic.core.catalog import License
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import ConfigurationError
from smartlic.core.license_class import PolicyClass
from smartlic.instance.base import AgentBase
from smartlic.instance.records import LicenseUse, ReportInfo, UsageSummary
from smartlic.instance.store import fault

SAMPLE_INTERVAL = 900
"""RUM samples every 15 minutes."""
CHECKPOINT_INTERVAL = 3600
"""The "Save unreported RUM Reports" job runs about hourly (reference §6.2, §9)."""
CHECKPOINT_KEY = "rum_checkpoint_at"

REASON_REPORT = "CurrentUsageRequested"
REASON_CHANGE = "UsageChanged"
REASON_RELOAD = "Reload"
REASON_AUTHORIZATION = "AuthorizationChanged"

IN_USE = "IN USE"
NOT_AUTHORIZED = "NOT AUTHORIZED"
NOT_IN_USE = "NOT IN USE"


class MeterMixin(AgentBase):
    # --- usage -------------------------------------------------------------------------------

    def use(self, name: str, count: int = 1) -> LicenseUse:
        """Put ``count`` of license ``name`` in use (absolute; 0 releases it)."""
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 1_000_000:
            raise ConfigurationError(f"count must be 0..1000000, got {count!r}")
        lic = self.catalog.get(name)
        refused = False
        with self.store.tx() as db:
            row = db.execute("SELECT * FROM usage WHERE license = ?", (lic.name,)).fetchone()
            old = 0 if row is None else row["count"]
            if row is not None and old == count:
                return self._license_use(lic)
            now = self.clock.now()
            if row is not None and row["open_report"] is not None:
                self._close(row["open_report"], REASON_CHANGE, now)
            if count == 0:
                db.execute("DELETE FROM usage WHERE license = ?", (lic.name,))
            else:
                db.execute(
                    "INSERT INTO usage (license, count, since, open_report) VALUES (?, ?, ?, NULL) "
                    "ON CONFLICT (license) DO UPDATE SET count = excluded.count, "
                    "open_report = NULL",
                    (lic.name, count, now),
                )
                if self.authorized(lic, count):
                    self._open(lic.name, count, now)
                else:
                    refused = True
            self._observe(now, also_changed={lic.policy_class})
            self._event("SAEVT_ENDPOINT_USAGE", count=count, entitlementTag=lic.entitlement_tag)
        if refused:
            self._emit("EXPORT_CONTROLLED")
            self._event("SAEVT_TAG_EXPORT_NOT_ALLOWED", entitlementTag=lic.entitlement_tag)
        return self._license_use(lic)

    def release(self, name: str) -> LicenseUse:
        return self.use(name, 0)

    def authorized(self, lic: License, count: int) -> bool:
        """Unenforced licenses always; enforced / export-controlled only within a SLAC."""
        if not lic.needs_authorization:
            return True
        allowed = sum(
            item.count
            for code in self.authorization_codes(self.udi)  # only the Active meters
            for item in code.licenses
            if item.entitlement_tag == lic.entitlement_tag or item.license_name == lic.name
        )
        return count <= allowed

    def _reauthorize(self) -> None:
        """After a SLAC came or went: start or stop metering enforced licenses."""
        now = self.clock.now()
        changed: set[PolicyClass] = set()
        for row in self.store.rows("SELECT * FROM usage"):
            lic = self.catalog.get(row["license"])
            ok = self.authorized(lic, row["count"])
            if ok and row["open_report"] is None:
                self._open(lic.name, row["count"], now)
                changed.add(lic.policy_class)
            elif not ok and row["open_report"] is not None:
                self._close(row["open_report"], REASON_AUTHORIZATION, now)
                self.store.execute(
                    "UPDATE usage SET open_report = NULL WHERE license = ?", (lic.name,)
                )
                changed.add(lic.policy_class)
        if changed:
            self._observe(now, also_changed=changed)

    def _license_use(self, lic: License) -> LicenseUse:
        row = self.store.row("SELECT * FROM usage WHERE license = ?", (lic.name,))
        if row is None:
            status, count, since, open_report = NOT_IN_USE, 0, 0, None
        else:
            count, since, open_report = row["count"], row["since"], row["open_report"]
            status = IN_USE if open_report is not None else NOT_AUTHORIZED
        return LicenseUse(
            name=lic.name,
            entitlement_tag=lic.entitlement_tag,
            display_name=lic.display_name,
            count=count,
            status=status,
            enforcement=lic.enforcement.value,
            policy_class=lic.policy_class.value,
            since=since,
            open_report=open_report,
        )

    def licenses_in_use(self) -> list[LicenseUse]:
        rows = self.store.rows("SELECT license FROM usage ORDER BY license")
        return [self._license_use(self.catalog.get(r["license"])) for r in rows]

    # --- deadline state ----------------------------------------------------------------------

    def usage_state(self) -> deadlines.UsageState:
        raw = self.store.get("usage_state") or {}
        return deadlines.UsageState(
            policy=self.policy,
            in_use={PolicyClass(k): v for k, v in raw.get("in_use", {}).items()},
            first_use_at=raw.get("first_use_at"),
            last_ack_at=raw.get("last_ack_at"),
            in_use_since={PolicyClass(k): v for k, v in raw.get("in_use_since", {}).items()},
            pending_changes={
                PolicyClass(k): deadlines.PendingChange(v[0], v[1])
                for k, v in raw.get("pending", {}).items()
            },
        )

    def _save_usage_state(self, state: deadlines.UsageState) -> None:
        self.store.put(
            "usage_state",
            {
                "in_use": {k.value: v for k, v in state.in_use.items()},
                "first_use_at": state.first_use_at,
                "last_ack_at": state.last_ack_at,
                "in_use_since": {k.value: v for k, v in state.in_use_since.items()},
                "pending": {
                    k.value: [v.first_at, v.last_at] for k, v in state.pending_changes.items()
                },
            },
        )

    def _class_counts(self) -> dict[PolicyClass, int]:
        counts: dict[PolicyClass, int] = {}
        for row in self.store.rows("SELECT * FROM usage WHERE open_report IS NOT NULL"):
            cls = self.catalog.get(row["license"]).policy_class
            counts[cls] = counts.get(cls, 0) + row["count"]
        return counts

    def _observe(self, now: int, also_changed: set[PolicyClass]) -> None:
        state = self.usage_state()
        counts = self._class_counts()
        # A class whose count is unchanged but whose licenses changed is still a change; a class
        # with no authorized use before or after is not.
        extra = [c for c in also_changed if counts.get(c, 0) or state.in_use.get(c, 0)]
        self._save_usage_state(deadlines.observe(state, counts, now, also_changed=extra))

    # --- reports -----------------------------------------------------------------------------

    def _new_report_id(self, now: int) -> int:
        last = self.store.get("last_report_id", 0)
        report_id = max(now, last + 1)
        self.store.put("last_report_id", report_id)
        return int(report_id)

    def _open(self, license_name: str, count: int, now: int) -> int:
        report_id = self._new_report_id(now)
        prev = self.store.scalar(
            "SELECT MAX(report_id) FROM reports WHERE license = ?", (license_name,)
        )
        self.store.execute(
            "INSERT INTO reports (report_id, license, state, prev_id, start_time, count) "
            "VALUES (?, ?, 'OPEN', ?, ?, ?)",
            (report_id, license_name, prev or 0, now, count),
        )
        if prev:
            self.store.execute(
                "UPDATE reports SET next_id = ? WHERE report_id = ?", (report_id, prev)
            )
        self.store.execute(
            "UPDATE usage SET open_report = ? WHERE license = ?", (report_id, license_name)
        )
        self.store.put(CHECKPOINT_KEY, now)
        return report_id

    def _close(self, report_id: int, reason: str, now: int) -> None:
        row = self.store.row("SELECT * FROM reports WHERE report_id = ?", (report_id,))
        if row is None or row["state"] != "OPEN":
            return
        lic = self.catalog.get(row["license"])
        end = max(now, row["start_time"])
        config = self.config
        signing = SigningType.TRUST if self.trust_code() is not None else SigningType.BUILTIN
        report = RumReport(
            report_id=report_id,
            asset_name=self.catalog.platform.software_id,
            udi=self.udi,
            signing_type=signing,
            public_key=self.key.public,
            entitlement_tag=lic.entitlement_tag,
            license_name=lic.name,
            software_version=None if config.privacy_version else self.identity.software_version,
            hostname=None if config.privacy_hostname else self.identity.hostname,
            ha=self.identity.ha_set,
            utility_enabled=config.effective_transport() == "cslu",
            previous_report_id=row["prev_id"],
            measurements=(
                Measurement(
                    start_time=row["start_time"],
                    end_time=end,
                    log_time=end,
                    sample_interval=SAMPLE_INTERVAL,
                    num_samples=(end - row["start_time"]) // SAMPLE_INTERVAL,
                    count=row["count"],
                    meta={"close_reason": reason},
                ),
            ),
            customer_tags=config.customer_tags,
        )
        envelope = sign(ArtifactType.RUM, report.to_json(), self.key, signing, sudi=self.udi)
        self.store.execute(
            "UPDATE reports SET state = 'CLOSED', end_time = ?, close_reason = ?, envelope = ?, "
            "digest = ?, signing_type = ? WHERE report_id = ?",
            (
                end,
                reason,
                json.dumps(envelope.to_json()),
                payload_digest(envelope),
                signing.value,
                report_id,
            ),
        )
        fault("close.mid")

    def close_reports(self, reason: str = REASON_REPORT) -> list[int]:
        """Close every OPEN report (report time) and open its successor; returns closed ids."""
        with self.store.tx():
            now = self.clock.now()
            rows = self.store.rows("SELECT * FROM usage WHERE open_report IS NOT NULL")
            closed = []
            for row in rows:
                started = self.store.scalar(
                    "SELECT start_time FROM reports WHERE report_id = ?", (row["open_report"],)
                )
                if reason == REASON_REPORT and started is not None and started >= now:
                    continue  # nothing measured yet: no empty report
                self._close(row["open_report"], reason, now)
                closed.append(row["open_report"])
                self._open(row["license"], row["count"], now)
            self.store.put(CHECKPOINT_KEY, now)
            fault("close.end")
        fault("close.committed")
        return closed

    def checkpoint_reports(self) -> int:
        """The "Save unreported RUM Reports" job: record that the OPEN reports measured up to now.

        Samples are derived from the start time and the (constant) count, so what a checkpoint
        saves is the time the instance was last known to be running: after a crash, the restart
        closes each OPEN report at the last checkpoint (not at the restart time, which would count
        the time the instance was down), so a crash loses at most one checkpoint interval.
        Returns how many OPEN reports were covered.
        """
        with self.store.tx():
            now = self.clock.now()
            self.store.put(CHECKPOINT_KEY, now)
            return int(self.store.scalar("SELECT COUNT(*) FROM reports WHERE state = 'OPEN'"))

    def _reload(self) -> None:
        """On start: reports open before the reload close with reason ``Reload``.

        Each closes at the last time the previous run was known to be running (its last
        checkpoint, a clean ``close()`` or report close), never before its start nor after now.
        """
        with self.store.tx():
            now = self.clock.now()
            alive = self.store.get(CHECKPOINT_KEY)
            for row in self.store.rows("SELECT * FROM usage WHERE open_report IS NOT NULL"):
                start = self.store.scalar(
                    "SELECT start_time FROM reports WHERE report_id = ?", (row["open_report"],)
                )
                end = now if alive is None or start is None else max(start, min(alive, now))
                self._close(row["open_report"], REASON_RELOAD, end)
                self._open(row["license"], row["count"], now)
            # A usage row whose open report is gone (older state) is healed here.
            for row in self.store.rows("SELECT * FROM usage WHERE open_report IS NULL"):
                lic = self.catalog.get(row["license"])
                if self.authorized(lic, row["count"]):
                    self._open(lic.name, row["count"], now)
            self.store.put(CHECKPOINT_KEY, now)

    def report_envelope(self, report_id: int) -> Envelope | None:
        text = self.store.scalar("SELECT envelope FROM reports WHERE report_id = ?", (report_id,))
        return None if text is None else Envelope.from_json(json.loads(text))

    def _envelopes(self, where: str, params: tuple[Any, ...] = ()) -> list[tuple[int, Envelope]]:
        rows = self.store.rows(
            "SELECT report_id, envelope FROM reports WHERE envelope IS NOT NULL AND "  # noqa: S608
            f"storage = 'STORED' AND ({where}) ORDER BY report_id",
            params,
        )
        return [(r["report_id"], Envelope.from_json(json.loads(r["envelope"]))) for r in rows]

    def unacked_reports(self) -> list[tuple[int, Envelope]]:
        return self._envelopes("state = 'CLOSED'")

    def _mark_reported(self, report_ids: list[int]) -> None:
        now = self.clock.now()
        with self.store.tx() as db:
            for report_id in report_ids:
                db.execute(
                    "UPDATE reports SET reported_at = COALESCE(reported_at, ?) "
                    "WHERE report_id = ? AND state = 'CLOSED'",
                    (now, report_id),
                )

    def reports(self, state: str | None = None) -> list[ReportInfo]:
        sql = "SELECT * FROM reports"
        params: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            params = (state,)
        return [_info(r) for r in self.store.rows(sql + " ORDER BY report_id", params)]

    def report(self, report_id: int) -> ReportInfo | None:
        row = self.store.row("SELECT * FROM reports WHERE report_id = ?", (report_id,))
        return None if row is None else _info(row)

    def _purge(self) -> None:
        """Drop payloads of ACKed reports past ``keep_acked`` and of any past ``max_stored``."""
        acked = self.store.rows(
            "SELECT report_id FROM reports WHERE state = 'ACK' AND storage = 'STORED' "
            "ORDER BY report_id DESC"
        )
        for row in acked[self.keep_acked :]:
            self.store.execute(
                "UPDATE reports SET storage = 'DELETED', envelope = NULL WHERE report_id = ?",
                (row["report_id"],),
            )
        stored = self.store.rows(
            "SELECT report_id FROM reports WHERE state != 'OPEN' AND storage = 'STORED' "
            "ORDER BY report_id DESC"
        )
        for row in stored[self.max_stored :]:
            self.store.execute(
                "UPDATE reports SET storage = 'DELETED', envelope = NULL WHERE report_id = ?",
                (row["report_id"],),
            )

    def usage_summary(self) -> UsageSummary:
        """The counters, computed from the stored reports (so a crash can never skew them)."""

        def count(where: str) -> int:
            return int(self.store.scalar(f"SELECT COUNT(*) FROM reports WHERE {where}"))  # noqa: S608

        ids = {r["report_id"] for r in self.store.rows("SELECT report_id FROM reports")}
        prevs = [
            r["prev_id"] for r in self.store.rows("SELECT prev_id FROM reports WHERE prev_id != 0")
        ]
        return UsageSummary(
            total=count("state != 'OPEN'"),
            purged=count("storage = 'DELETED' AND state = 'ACK'"),
            purged_unacked=count("storage = 'DELETED' AND state != 'ACK'"),
            acknowledged=count("state = 'ACK'"),
            waiting_for_ack=count("state = 'CLOSED' AND reported_at IS NOT NULL"),
            unacknowledged=count("state = 'CLOSED'"),
            available_to_report=count(
                "state = 'CLOSED' AND reported_at IS NULL AND storage = 'STORED'"
            ),
            collecting=count("state = 'OPEN'"),
            in_storage=count("state != 'OPEN' AND storage = 'STORED'"),
            mia=sum(1 for p in prevs if p not in ids),
        )


def _info(row: Any) -> ReportInfo:
    return ReportInfo(
        report_id=row["report_id"],
        license=row["license"],
        state=row["state"],
        storage=row["storage"],
        previous_report_id=row["prev_id"],
        next_report_id=row["next_id"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        count=row["count"],
        close_reason=row["close_reason"],
        signing_type=row["signing_type"],
        reported_at=row["reported_at"],
        acked_at=row["acked_at"],
        ack_id=row["ack_id"],
    )
