"""The whole system under adversity: product instances ↔ utility ↔ authority, as a hypothesis
state machine (issue #9, reliability).

Four product instances, one per way of reporting — ``push`` (cslu transport to the utility),
``direct`` (smart transport to the authority), ``pull`` (the utility collects over the device
REST API) and ``air`` (save usage → upload at the authority → import the ACK file) — a utility
and an authority, all real, on loopback. Rules use and release licenses, let time pass, sync,
poll, collect, upload, go through Download All / Upload From, and do harm: crashes at named
fault points in child processes, restarts, lost answers (so messages are sent again),
duplicate and reordered messages, clock jumps on one instance, key rotation, replayed old ACKs
and policies, and files for another UDI. After every step the invariants of
``tests/stress/invariants.py`` must hold.

Bounded for ``make test``; ``SMARTLIC_STRESS_EXAMPLES`` / ``SMARTLIC_STRESS_STEPS`` make it
longer (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from smartlic.core import xmlfile
from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.errors import SmartLicError
from smartlic.core.keyset import KeySet
from smartlic.core.protocol import Response
from smartlic.core.timefmt import DAY, HOUR
from smartlic.core.udi import Udi
from tests.stress import invariants
from tests.stress.roles import (
    DEVICE_PASSWORD,
    DEVICE_USER,
    FAULT_EXIT,
    UTILITY_FAULT_EXIT,
    AuthorityRole,
    Instance,
    UtilityRole,
)

EXAMPLES = int(os.environ.get("SMARTLIC_STRESS_EXAMPLES", "5"))
STEPS = int(os.environ.get("SMARTLIC_STRESS_STEPS", "20"))
CHILD_CRASHES = int(os.environ.get("SMARTLIC_STRESS_CHILD_CRASHES", "1"))
"""Utility crashes per example: each starts a child process (seconds), so few in ``make test``."""
LICENSES = ("network-advantage", "dna-advantage", "network-essentials")
TOPOLOGIES = ("push", "direct", "pull", "air")
VERBOSITY = {"1": Verbosity.verbose, "2": Verbosity.debug}
"""``SMARTLIC_STRESS_VERBOSE=1``: a line per example; ``2``: every step as well (with ``-s``)."""
REPLAYABLE = (ArtifactType.ACK, ArtifactType.POLICY)
COLLECT_OUTCOMES = ("ok", "upload failed", "waiting for ACK file", "error")
"""What a collection may end in here; never ``unreachable``: the device is always up."""
SERIALS = iter(range(10_000, 10**9))


def template_time(template: Path) -> int:
    """When the template's first key set was issued: every example starts an hour later (the
    keys are valid then, and a derandomized run sees the same times on every replay)."""
    (anchor,) = xmlfile.read((template / "anchor.xml").read_bytes())
    return int(KeySet.from_json(anchor.payload_json()).issued_at)


class SystemMachine(RuleBasedStateMachine):
    """One example: a fresh copy of the template authority, a fresh utility and four fresh
    instances (new UDIs), all started here and stopped in ``teardown``."""

    template: Path

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="slp-stress-"))
        start = template_time(self.template) + HOUR
        self.authority = AuthorityRole.from_template(self.template, self.root, start)
        self.authority.start()
        self.utility = UtilityRole(self.root / "utility", self.authority)
        self.utility.start()
        self.instances: dict[str, Instance] = {}
        for topology in TOPOLOGIES:
            udi = Udi.parse(f"PID:C9300-24UX,SN:STR{next(SERIALS):08d}")
            instance = Instance.create(
                topology, topology, self.root / topology, udi, start, self.authority.anchor
            )
            self.instances[topology] = instance
        self.instances["push"].agent.configure(transport="cslu", cslu_url=self.utility.cslu_url)
        self.instances["direct"].agent.configure(
            transport="smart", smart_url=f"{self.authority.url}/licservice/license"
        )
        for name in ("pull", "air"):
            self.instances[name].agent.configure(transport="off")
        for instance in self.instances.values():
            instance.agent.use("network-advantage", 1)
            instance.agent.use("dna-advantage", 1)
            instance.clock.advance(HOUR)
        self._follow()
        self.instances["direct"].agent.trust_idtoken(self.authority.id_token)
        pull = self.instances["pull"]
        assert self.utility.service is not None
        self.utility.service.add_device(
            "127.0.0.1", pull.serve_rest(), DEVICE_USER, DEVICE_PASSWORD, str(pull.udi)
        )
        self.ack_files: dict[str, list[bytes]] = {name: [] for name in self.instances}
        self.replies: list[Envelope] = []
        self.highs = invariants.Highs()
        self.files = 0
        self.child_crashes = 0
        self.air_elsewhere = False
        self.checks = 0
        """Invariant rounds: one after the start, then one after every step."""

    # --- helpers ----------------------------------------------------------------------------

    def _file(self, suffix: str) -> Path:
        self.files += 1
        return self.root / f"f{self.files}{suffix}"

    def _now(self) -> int:
        return int(max(i.clock.now() for i in self.instances.values()))

    def _follow(self) -> None:
        """The authority's clock follows the latest instance clock (NTP at the data centre)."""
        latest = self._now()
        if latest > self.authority.clock.value:
            self.authority.clock.value = latest

    def _remember_replies(self, name: str) -> None:
        """Keep every ACK and policy an instance got, to offer them again later (replays,
        rollbacks, another instance's ACK)."""
        for record in self.instances[name].agent.message_history():
            try:
                response = Response.parse(record.response.encode())
            except SmartLicError:
                continue
            for envelope in response.artifacts:
                if envelope.type in REPLAYABLE and envelope not in self.replies:
                    self.replies.append(envelope)

    def _air_ack_file(self, which: str) -> bytes | None:
        """``save usage`` → upload at the authority → the ACK file (None: nothing to save)."""
        air = self.instances["air"]
        path = self._file(".xml")
        if air.agent.save_usage(path, which) == 0:
            return None
        reply = self.authority.upload_usage(path.read_bytes(), other_va=self.air_elsewhere)
        assert reply.status_code == 200, reply.text
        self.ack_files["air"].append(reply.content)
        return reply.content

    # --- usage ------------------------------------------------------------------------------

    @rule(
        name=st.sampled_from(TOPOLOGIES),
        lic=st.sampled_from(LICENSES),
        count=st.integers(0, 3),
    )
    def use(self, name: str, lic: str, count: int) -> None:
        self.instances[name].agent.use(lic, count)

    @rule(seconds=st.sampled_from([900, HOUR, DAY, 10 * DAY, 45 * DAY, 100 * DAY]))
    def time_passes(self, seconds: int) -> None:
        for instance in self.instances.values():
            instance.clock.advance(seconds)
        self._follow()

    @rule(name=st.sampled_from(TOPOLOGIES))
    def tick(self, name: str) -> None:
        self.instances[name].agent.tick()  # failures are reported in its result, not raised
        self._remember_replies(name)

    # --- push, direct and poll ------------------------------------------------------------------

    @rule(name=st.sampled_from(["push", "direct"]), lose_answer=st.booleans())
    def sync(self, name: str, lose_answer: bool) -> None:
        instance = self.instances[name]
        if lose_answer:
            instance.link.drop_answer = 1
        try:
            with contextlib.suppress(SmartLicError):  # down, refused, answer lost: all allowed
                instance.agent.sync()
        finally:
            instance.link.drop_answer = 0
        self._remember_replies(name)

    @rule(name=st.sampled_from(["push", "direct"]))
    def poll(self, name: str) -> None:
        with contextlib.suppress(SmartLicError):
            self.instances[name].agent.poll()
        self._remember_replies(name)

    @precondition(lambda self: self.utility.running)
    @rule(lost=st.integers(1, 3))
    def utility_loses_authority_answers(self, lost: int) -> None:
        """The authority commits, the answer never reaches the utility: it sends again (up to
        its retries), or answers the instance OK_POLL and keeps the reports."""
        self.utility.link.drop_answer = lost
        try:
            with contextlib.suppress(SmartLicError):
                self.instances["push"].agent.sync()
        finally:
            self.utility.link.drop_answer = 0
        self._remember_replies("push")

    @rule(name=st.sampled_from(["push", "direct"]), reverse=st.booleans())
    def resend_old_messages(self, name: str, reverse: bool) -> None:
        """Duplicate (and reorder) the instance's last messages, byte for byte."""
        instance = self.instances[name]
        url = instance.agent.config.endpoint_url()
        bodies = [r.request for r in instance.agent.message_history() if r.request]
        if reverse:
            bodies.reverse()
        for body in bodies[-2:]:
            try:
                reply = httpx.post(url or "", content=body.encode(), timeout=20)
            except httpx.HTTPError:
                continue  # the peer is down: nothing was delivered
            assert reply.status_code < 500, reply.text

    # --- the utility ------------------------------------------------------------------------

    @precondition(lambda self: self.utility.running)
    @rule()
    def collect(self) -> None:
        assert self.utility.service is not None
        for result in self.utility.service.collect():
            # "error" is the authority refusing (e.g. a key not valid at the instance clock).
            assert result["status"] in COLLECT_OUTCOMES, result

    @precondition(lambda self: self.utility.running and self.utility.connected)
    @rule()
    def upload_pending(self) -> None:
        assert self.utility.service is not None
        self.utility.service.upload_all()
        self.utility.service.deliver_pending()

    @precondition(lambda self: self.utility.running)
    @rule(connected=st.booleans())
    def utility_mode(self, connected: bool) -> None:
        self.utility.set_connected(connected)

    @precondition(lambda self: self.utility.running and self.authority.running)
    @rule(lose_ack_file=st.booleans())
    def download_all_upload_from(self, lose_ack_file: bool) -> None:
        """Download All For Cisco → upload at the authority → Upload From Cisco (or the ACK file
        is lost on the way back, and the next round must cover the same reports again)."""
        assert self.utility.service is not None
        usage = self._file(".tar.gz")
        try:
            self.utility.service.download_all(usage)
        except SmartLicError:
            return  # nothing waiting
        reply = self.authority.upload_usage(usage.read_bytes())
        assert reply.status_code == 200, reply.text
        if lose_ack_file:
            return
        ack = self._file(".tar.gz")
        ack.write_bytes(reply.content)
        self.utility.service.upload_from(ack)
        self.utility.service.deliver_pending()

    @precondition(lambda self: self.utility.running)
    @rule()
    def restart_utility(self) -> None:
        self.utility.stop()
        self.utility.start()

    @precondition(lambda self: self.utility.running and self.child_crashes < CHILD_CRASHES)
    @rule(point=st.sampled_from(["push.stored", "push.uploaded", "push.acked"]))
    def crash_utility_during_push(self, point: str) -> None:
        """The utility process dies at ``point`` while the push instance reports."""
        self.child_crashes += 1
        self.utility.stop()
        child = self.utility.serve_child(point)
        with contextlib.suppress(SmartLicError):
            self.instances["push"].agent.sync()
        if child.poll() is None:
            child.terminate()  # the fault point was not reached (nothing to report)
        code = child.wait(timeout=30)
        assert code in (UTILITY_FAULT_EXIT, -15, 0), code
        self.utility.start()
        self._remember_replies("push")

    @precondition(
        lambda self: (
            self.utility.running and self.authority.running and self.child_crashes < CHILD_CRASHES
        )
    )
    @rule()
    def crash_utility_during_upload_from(self) -> None:
        """Download All → upload → Upload From Cisco in a child that dies half way through
        storing the ACK file; the restarted utility imports the same file again."""
        assert self.utility.service is not None
        usage = self._file(".tar.gz")
        try:
            self.utility.service.download_all(usage)
        except SmartLicError:
            return
        self.child_crashes += 1
        reply = self.authority.upload_usage(usage.read_bytes())
        assert reply.status_code == 200, reply.text
        ack = self._file(".tar.gz")
        ack.write_bytes(reply.content)
        self.utility.stop()
        code = self.utility.child("upload_from.mid", "upload-from", str(ack)).wait(timeout=120)
        assert code in (UTILITY_FAULT_EXIT, 0), code
        self.utility.start()
        assert self.utility.service is not None
        self.utility.service.upload_from(ack)
        self.utility.service.deliver_pending()

    @precondition(lambda self: self.utility.running and self.child_crashes < CHILD_CRASHES)
    @rule(point=st.sampled_from(["collect.stored", "collect.uploaded"]))
    def crash_utility_during_collect(self, point: str) -> None:
        self.child_crashes += 1
        self.utility.stop()
        child = self.utility.child(point, "collect", "--all")
        code = child.wait(timeout=120)
        assert code in (UTILITY_FAULT_EXIT, 0, 1, 2), code
        self.utility.start()

    # --- the authority ----------------------------------------------------------------------

    @precondition(lambda self: self.authority.running)
    @rule()
    def authority_goes_down(self) -> None:
        self.authority.stop()

    @precondition(lambda self: not self.authority.running)
    @rule()
    def authority_comes_back(self) -> None:
        self.authority.start()

    @rule()
    def rotate_authority_keys(self) -> None:
        self.authority.rotate_keys()

    # --- air gap and files ------------------------------------------------------------------

    @precondition(lambda self: self.authority.running)
    @rule(which=st.sampled_from(["unreported", "unacknowledged"]), lose=st.booleans())
    def air_gap(self, which: str, lose: bool) -> None:
        data = self._air_ack_file(which)
        if data is None or lose:
            return
        # Refused e.g. when signed with a key not valid yet at the instance clock.
        with contextlib.suppress(SmartLicError):
            self.instances["air"].agent.import_bytes(data)

    @precondition(lambda self: self.authority.running)
    @rule()
    def usage_file_uploaded_in_another_virtual_account(self) -> None:
        """The same device's usage file, uploaded again by mistake in another VA: refused or
        answered, never counted a second time (the invariant checks across VAs)."""
        air = self.instances["air"]
        path = self._file(".xml")
        if air.agent.save_usage(path, "all") == 0:
            return
        first = not self.ack_files["air"] and not self.air_elsewhere
        reply = self.authority.upload_usage(path.read_bytes(), other_va=not self.air_elsewhere)
        assert reply.status_code < 500, reply.text
        if first and reply.status_code == 200:
            # The first upload places the instance (in that VA): from now on that is its home.
            self.air_elsewhere = True
            self.ack_files["air"].append(reply.content)

    @precondition(lambda self: self.ack_files["air"])
    @rule(pick=st.integers(0, 100))
    def import_old_ack_file(self, pick: int) -> None:
        """An old ACK file again (replay), or one kept from a lost round (reordered)."""
        files = self.ack_files["air"]
        with contextlib.suppress(SmartLicError):
            self.instances["air"].agent.import_bytes(files[pick % len(files)])

    @precondition(lambda self: self.ack_files["air"])
    @rule(target_name=st.sampled_from(["push", "direct", "pull"]), pick=st.integers(0, 100))
    def import_file_for_another_udi(self, target_name: str, pick: int) -> None:
        files = self.ack_files["air"]
        target = self.instances[target_name]
        before = invariants.measured(target)
        with pytest.raises(SmartLicError):
            target.agent.import_bytes(files[pick % len(files)])
        assert invariants.measured(target) == before

    @precondition(lambda self: self.replies)
    @rule(name=st.sampled_from(TOPOLOGIES), pick=st.integers(0, 100))
    def replay_old_ack_or_policy(self, name: str, pick: int) -> None:
        """An ACK or policy some instance received earlier, offered again as a file: to the
        same instance (a replay, perhaps older than what it holds) or to another (a foreign
        ACK). Refused or harmless; the invariants say which is allowed."""
        envelope = self.replies[pick % len(self.replies)]
        with contextlib.suppress(SmartLicError):
            self.instances[name].agent.import_bytes(xmlfile.write([envelope]))

    # --- instances: crashes and clocks ------------------------------------------------------

    @rule(
        name=st.sampled_from(TOPOLOGIES),
        point=st.sampled_from(["close.mid", "close.end", "close.committed"]),
    )
    def crash_instance_closing_reports(self, name: str, point: str) -> None:
        code = self.instances[name].crash_in_child(point, "close")
        assert code in (FAULT_EXIT, 0), code

    @precondition(lambda self: self.authority.running)
    @rule(point=st.sampled_from(["ack.mid", "ack.end", "ack.committed"]))
    def crash_instance_importing_ack(self, point: str) -> None:
        data = self._air_ack_file("unacknowledged")
        if data is None:
            return
        path = self._file(".xml")
        path.write_bytes(data)
        code = self.instances["air"].crash_in_child(point, "import", str(path))
        assert code in (FAULT_EXIT, 0, 1), code

    @rule(
        name=st.sampled_from(TOPOLOGIES),
        seconds=st.sampled_from([-2 * HOUR, -600, 600, 3 * DAY, 40 * DAY]),
    )
    def clock_jump(self, name: str, seconds: int) -> None:
        self.instances[name].clock.advance(seconds)
        self._follow()

    @rule(name=st.sampled_from(TOPOLOGIES))
    def restart_instance(self, name: str) -> None:
        instance = self.instances[name]
        instance.agent.close()
        instance.reopen()

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def no_server_ever_fails(self) -> None:
        """Bad luck (crashes, lost answers, replays) is answered, never a 5xx."""
        self.checks += 1
        links = [self.utility.link, *(i.link for i in self.instances.values())]
        errors = [e for link in links for e in link.server_errors]
        assert not errors, errors

    @invariant()
    def authority_counts_exactly_what_was_measured(self) -> None:
        invariants.usage_is_exact(self.authority, list(self.instances.values()))

    @invariant()
    def utility_holds_only_measured_reports(self) -> None:
        if self.utility.service is not None:
            invariants.utility_holds_only_measured(
                self.utility.service, list(self.instances.values())
            )

    @invariant()
    def every_installed_artifact_verifies(self) -> None:
        for instance in self.instances.values():
            invariants.artifacts_verify(self.authority, instance, self.highs)

    @invariant()
    def no_instance_claims_a_deadline_it_did_not_earn(self) -> None:
        for instance in self.instances.values():
            invariants.deadline_is_honest(instance)

    def _signing_key_valid_at(self, now: int) -> bool:
        keyset = KeySet.from_json(self.authority.chain()[-1].payload_json())
        return any(entry.valid_at(now) for entry in keyset.keys)

    def heal_and_drain(self) -> None:
        """End of the story: every fault heals (roles up, utility connected, clocks set right by
        NTP), each instance reports the usual way a few rounds, and then nothing measured is
        left unacknowledged: no usage was lost on the way, whatever happened before."""
        if not self.authority.running:
            self.authority.start()
        if not self.utility.running:
            self.utility.start()
        if not self.utility.connected:
            self.utility.set_connected(True)
        now = self._now()
        for instance in self.instances.values():
            instance.clock.set(now)
        self._follow()
        if not self._signing_key_valid_at(now):
            return  # the authority's keys expired (nobody rotated): no ACK can verify
        assert self.utility.service is not None
        for _ in range(3):
            for name in ("push", "direct"):
                agent = self.instances[name].agent
                # A round may still be refused while a fault's effect lingers (a poll for an
                # answer the crashed utility never stored); the end state is what counts.
                with contextlib.suppress(SmartLicError):
                    agent.poll()
                with contextlib.suppress(SmartLicError):
                    agent.sync()
            self.utility.service.collect()
            self.utility.service.upload_all()
            self.utility.service.deliver_pending()
            data = self._air_ack_file("unacknowledged")
            if data is not None:
                self.instances["air"].agent.import_bytes(data)
        for instance in self.instances.values():
            left = instance.agent.unacked_reports()
            assert not left, (
                f"{instance.name}: reports {[r for r, _ in left]} never acknowledged after healing"
            )
        self.check_invariants_now()

    def check_invariants_now(self) -> None:
        self.no_server_ever_fails()
        self.checks -= 1  # not a step
        self.authority_counts_exactly_what_was_measured()
        self.utility_holds_only_measured_reports()
        self.every_installed_artifact_verifies()
        self.no_instance_claims_a_deadline_it_did_not_earn()

    def teardown(self) -> None:
        try:
            self.heal_and_drain()
        finally:
            self._close_all()

    def _close_all(self) -> None:
        if os.environ.get("SMARTLIC_STRESS_VERBOSE"):
            rows = self.authority.usage_rows([str(i.udi) for i in self.instances.values()])
            acked = {
                n: sum(m.acked for m in invariants.measured(i).values())
                for n, i in self.instances.items()
            }
            print(
                f"example done: steps {self.checks - 1}, authority rows {len(rows)}, acked {acked}"
            )
        for instance in self.instances.values():
            instance.close()
            instance.link.close()
        self.utility.stop()
        self.utility.link.close()
        self.authority.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(max(300, EXAMPLES * STEPS * 4))
def test_system_state_machine(stress_template: Path) -> None:
    SystemMachine.template = stress_template
    run_state_machine_as_test(
        SystemMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=os.environ.get("SMARTLIC_STRESS_RANDOM") is None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            print_blob=True,
            verbosity=VERBOSITY.get(
                os.environ.get("SMARTLIC_STRESS_VERBOSE", ""), Verbosity.normal
            ),
        ),
    )
