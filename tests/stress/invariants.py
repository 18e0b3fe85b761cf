"""What must hold after every step of the system state machine, whatever happened before.

Each check reads the real stores (the authority's database, the utility's, each instance's) and
recomputes with ``core`` alone; none trusts what a role says about itself.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from smartlic.core import deadlines
from smartlic.core.artifacts import PolicyGrant
from smartlic.core.envelope import ArtifactType, Envelope, SigningType
from smartlic.core.errors import SmartLicError
from smartlic.core.keyset import KeySet, Verifier
from smartlic.core.udi import Udi
from smartlic.instance.shell.render import show_status
from smartlic.utility.service import Utility
from tests.stress.roles import AuthorityRole, Instance

AUTHORITY_SIGNED = {"ack", "policy", "trust_code", "slac"}
INSTANCE_SIGNED = {"return_code"}


@dataclass
class Measured:
    """One RUM report as the instance that measured it holds it."""

    digest: str
    count: int
    license: str
    acked: bool


@dataclass
class Highs:
    """High-water marks per instance: what was trusted once is never rolled back."""

    policy_serial: dict[str, int] = field(default_factory=dict)
    keyset_version: dict[str, int] = field(default_factory=dict)


def measured(instance: Instance) -> dict[int, Measured]:
    rows = instance.agent.store.rows(
        "SELECT report_id, digest, count, license, acked_at FROM reports WHERE digest IS NOT NULL"
    )
    return {
        int(r["report_id"]): Measured(
            str(r["digest"]), int(r["count"]), str(r["license"]), r["acked_at"] is not None
        )
        for r in rows
    }


def usage_is_exact(authority: AuthorityRole, instances: list[Instance]) -> None:
    """Every acknowledged report is at the authority with the measured count; every report at
    the authority is one an instance measured; none is stored twice (not even in two VAs)."""
    by_udi = {str(i.udi): i for i in instances}
    rows = authority.usage_rows(list(by_udi))
    twice = [k for k, n in Counter((udi, rid) for _, udi, rid, *_ in rows).items() if n > 1]
    assert not twice, f"reports counted twice at the authority: {twice}"
    stored = {(udi, rid): (digest, count, lic) for _, udi, rid, digest, count, lic in rows}
    for udi, instance in by_udi.items():
        mine = measured(instance)
        purged = instance.agent.usage_summary().purged
        for (u, rid), (digest, count, lic) in stored.items():
            if u != udi:
                continue
            report = mine.get(rid)
            if report is None:
                assert purged, f"{udi} report {rid} is at the authority but was never measured"
                continue
            assert (digest, count, lic) == (report.digest, report.count, report.license), (
                f"{udi} report {rid}: authority has {(digest, count, lic)}, instance measured "
                f"{(report.digest, report.count, report.license)}"
            )
        for rid, report in mine.items():
            if report.acked:
                assert (udi, rid) in stored, (
                    f"{udi} report {rid} is acknowledged on the instance but the authority "
                    "never counted it"
                )


def utility_holds_only_measured(utility: Utility, instances: list[Instance]) -> None:
    by_udi = {str(i.udi): measured(i) for i in instances}
    rows = utility.store.rows("SELECT udi, report_id, digest FROM reports")
    keys = Counter((r["udi"], int(r["report_id"])) for r in rows)
    assert all(n == 1 for n in keys.values()), "a report stored twice at the utility"
    for row in rows:
        mine = by_udi.get(row["udi"], {})
        report = mine.get(int(row["report_id"]))
        if report is not None:
            assert report.digest == row["digest"], (
                f"utility holds {row['udi']} report {row['report_id']} with another digest"
            )


def verify_as_published(keysets: list[KeySet], envelope: Envelope, at: int) -> Any:
    """Signed by the authority with a key that one of its published key sets (the chain from
    the anchor) declared valid at ``at``: a later rotation shortens or drops old keys, which
    does not make what they signed while valid a forgery."""
    assert envelope.signature.signing_type is SigningType.AUTHORITY, envelope.signature
    reasons = []
    for keyset in keysets:
        try:
            envelope.verify_with(keyset.key_for(envelope.signature.key, at))
        except SmartLicError as exc:
            reasons.append(f"v{keyset.version}: {exc.reason}")
            continue
        return envelope.payload_json()
    raise AssertionError(f"a {envelope.type.value} no published key verifies: {reasons}")


def artifacts_verify(authority: AuthorityRole, instance: Instance, highs: Highs) -> None:
    """Every artifact an instance holds verifies under the authority's published key chain at
    the instance time it was installed, is for this instance, and nothing rolled back."""
    verifier = Verifier.from_anchor(authority.anchor)
    verifier.update(authority.chain()[1:])
    published = {e.payload for e in verifier.chain()}
    keysets = [KeySet.from_json(e.payload_json()) for e in verifier.chain()]
    policy_serial = 0
    keyset_version = 0
    for row in instance.agent.store.rows(
        "SELECT kind, envelope, installed_at, active FROM artifacts ORDER BY id"
    ):
        envelope = Envelope.from_json(json.loads(row["envelope"]))
        kind = str(row["kind"])
        if kind == "keyset":
            assert envelope.payload in published, "a key set the authority never published"
            keyset_version = max(keyset_version, KeySet.from_json(envelope.payload_json()).version)
            continue
        if kind in INSTANCE_SIGNED:
            continue
        assert kind in AUTHORITY_SIGNED, f"unexpected installed artifact kind {kind!r}"
        payload = verify_as_published(keysets, envelope, int(row["installed_at"]))
        if envelope.type is ArtifactType.POLICY and row["active"]:
            policy_serial = max(policy_serial, PolicyGrant.from_json(payload).policy.serial)
        udi = payload.get("udi") if isinstance(payload, dict) else None
        if udi is not None:
            assert instance.agent.identity.ha_set.contains(Udi.parse(udi)), (
                f"{instance.name} holds a {kind} for {udi}"
            )
    name = instance.name
    assert policy_serial >= highs.policy_serial.get(name, 0), f"{name}: policy rolled back"
    assert keyset_version >= highs.keyset_version.get(name, 0), f"{name}: key set rolled back"
    highs.policy_serial[name] = policy_serial
    highs.keyset_version[name] = keyset_version


def deadline_is_honest(instance: Instance) -> None:
    """What the instance shows is the core deadline engine's answer on its own usage state;
    the last ACK that moved the deadline is an installed ACK; past the deadline, the status
    shows a deadline in the past (never a fresh one it did not earn)."""
    agent = instance.agent
    now = instance.clock.now()
    state = agent.usage_state()
    engine = deadlines.compute(state, now)
    status = agent.status()
    assert status.next_ack_deadline == engine.next_ack_deadline, (
        f"{instance.name}: shows deadline {status.next_ack_deadline}, engine says "
        f"{engine.next_ack_deadline}"
    )
    if state.last_ack_at is not None:
        ack_times = {
            int(r["installed_at"])
            for r in agent.store.rows("SELECT installed_at FROM artifacts WHERE kind = 'ack'")
        }
        assert state.last_ack_at in ack_times, (
            f"{instance.name}: last ACK at {state.last_ack_at} but no ACK installed then"
        )
    if engine.overdue:
        assert engine.next_ack_deadline is not None
        assert engine.next_ack_deadline < now
        text = show_status(agent)
        assert "Next ACK deadline" in text, text
