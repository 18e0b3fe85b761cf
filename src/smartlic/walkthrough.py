"""A narrated, in-process tour of SLP built from ``smartlic.core`` alone.

It plays the three roles with the real signing and verification code — an authority key set, a
product instance's key, a trust code, a RUM report, an ACK carrying a custom policy — and shows the
deadlines and ``%SMART_LIC`` messages a device would show. ``smartlic demo`` runs it; the lab's
tour (``smartlic lab demo``, fleets over real HTTP and SSH) is what ``make demo`` shows.
"""

from __future__ import annotations

import secrets
import uuid

from rich.console import Console
from rich.table import Table

from smartlic.core import sysmsg, xmlfile
from smartlic.core.artifacts import (
    Account,
    Ack,
    AckedReport,
    Measurement,
    PolicyGrant,
    RumReport,
    TrustCode,
    TrustRequest,
    payload_digest,
)
from smartlic.core.catalog import default_catalog
from smartlic.core.deadlines import UsageState, acknowledge, compute, observe
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import SmartLicError
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import KeyEntry, KeySet, Verifier, sign_keyset
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import (
    CISCO_DEFAULT,
    ClassOverrides,
    CustomPolicySpec,
    display_lines,
    merge,
)
from smartlic.core.timefmt import DAY, device_time
from smartlic.core.udi import HaSet, Udi

START = 1_764_288_000  # Nov 28 00:00:00 2025 UTC: a fixed start makes the tour reproducible


def _step(console: Console, title: str) -> None:
    console.rule(f"[bold]{title}")


def run(console: Console) -> None:
    catalog = default_catalog()
    now = START
    udi = Udi.parse("PID:C9300-24UX,SN:FCW2303D16Y")
    account = Account("Example Corp", "Campus")

    _step(console, "1. The authority makes its keys")
    root, signing = SigningKey.generate(), SigningKey.generate()
    keyset = KeySet(1, now, root.public, (KeyEntry(signing.public, now - DAY, now + 730 * DAY),))
    anchor = sign_keyset(keyset, root)
    console.print(f"root key {root.key_id[:16]}..., signing key {signing.key_id[:16]}...")

    _step(console, "2. A product instance starts on the Cisco default policy")
    instance_key = SigningKey.generate()
    verifier = Verifier.from_anchor(anchor)
    in_use = dict.fromkeys(("network-advantage", "dna-advantage"), 1)
    counts: dict[PolicyClass, int] = {}
    for name, count in in_use.items():
        cls = catalog.get(name).policy_class
        counts[cls] = counts.get(cls, 0) + count
    state = observe(UsageState(policy=CISCO_DEFAULT), counts, now)
    deadline = compute(state, now)
    console.print(f"UDI {udi}, licenses in use: {', '.join(in_use)}")
    console.print(
        f"Next ACK deadline: {device_time(deadline.next_ack_deadline)} "
        f"({deadline.reason.value}, {deadline.days_left} days)"
    )
    for alert in deadline.alerts(None, deadline.next_ack_deadline or now):
        at = alert.at * 1000
        console.print(sysmsg.console_line(sysmsg.emit("REPORTING_REQUIRED", alert.days, at_ms=at)))

    _step(console, "3. Trust: ID token -> signed trust request -> trust code")
    ha = HaSet.standalone(udi)
    request = TrustRequest(udi, ha, instance_key.public, now, secrets.token_hex(16), "token")
    request_env = sign(
        ArtifactType.TRUST_REQUEST, request.to_json(), instance_key, SigningType.BUILTIN, sudi=udi
    )
    request_env.verify_with(request.public_key)  # the authority checks proof of possession
    trust = TrustCode(udi, instance_key.public, account, now, 1, request.nonce)
    trust_env = sign(ArtifactType.TRUST_CODE, trust.to_json(), signing, SigningType.AUTHORITY)
    installed = TrustCode.from_json(verifier.verify(trust_env, ArtifactType.TRUST_CODE, now=now))
    console.print(sysmsg.format_message("TRUST_INSTALL_SUCCESS", str(installed.udi)))

    _step(console, "4. Usage: a RUM report signed with the trusted key, answered by an ACK")
    now += 20 * DAY
    lic = catalog.get("dna-advantage")
    report = RumReport(
        report_id=now,
        asset_name=catalog.platform.software_id,
        udi=udi,
        signing_type=SigningType.TRUST,
        public_key=instance_key.public,
        entitlement_tag=lic.entitlement_tag,
        license_name=lic.name,
        software_version="17.09.02",
        hostname="switch-1",
        ha=ha,
        utility_enabled=False,
        previous_report_id=0,
        measurements=(Measurement(START, now, now, 900, 20 * 96, 1),),
    )
    rum_env = sign(ArtifactType.RUM, report.to_json(), instance_key, SigningType.TRUST, sudi=udi)
    spec = CustomPolicySpec(
        "Custom Policy",
        1,
        rules={PolicyClass.UNENFORCED_SUBSCRIPTION: ClassOverrides(60, 60, 60)},
    )
    grant = PolicyGrant(merge(CISCO_DEFAULT, spec), account, now)
    policy_env = sign(ArtifactType.POLICY, grant.to_json(), signing, SigningType.AUTHORITY)
    ack = Ack(
        uuid.uuid4().hex,
        udi,
        account,
        now,
        (AckedReport(report.report_id, payload_digest(rum_env)),),
        policy=policy_env,
    )
    ack_env = sign(ArtifactType.ACK, ack.to_json(), signing, SigningType.AUTHORITY)
    file_bytes = xmlfile.write([ack_env])
    console.print(f"ACK file: {len(file_bytes)} bytes, <smartLicense><smartLicenseRumAck>...")
    received = Ack.from_json(
        verifier.verify(xmlfile.read(file_bytes)[0], ArtifactType.ACK, now=now)
    )
    assert received.policy is not None
    new_grant = PolicyGrant.from_json(
        verifier.verify(received.policy, ArtifactType.POLICY, now=now)
    )
    console.print(sysmsg.format_message("POLICY_INSTALL_SUCCESS"))
    state = acknowledge(
        UsageState(policy=new_grant.policy, in_use=state.in_use, first_use_at=state.first_use_at),
        now,
    )
    deadline = compute(state, now)
    console.print("\n".join(display_lines(new_grant.policy, now)))
    console.print(
        f"Last ACK received: {device_time(now)}\n"
        f"Next ACK deadline: {device_time(deadline.next_ack_deadline)} ({deadline.reason.value})"
    )

    _step(console, "5. What a device says when artifacts are wrong")
    table = Table("attempt", "result")
    attempts: list[tuple[str, Envelope, ArtifactType, int]] = [
        ("ACK presented as a policy", ack_env, ArtifactType.POLICY, now),
        (
            "policy with one byte changed",
            Envelope(
                policy_env.type, policy_env.payload.replace("60", "61", 1), policy_env.signature
            ),
            ArtifactType.POLICY,
            now,
        ),
        (
            "trust code checked with the clock 3 years ahead",
            trust_env,
            ArtifactType.TRUST_CODE,
            now + 3 * 365 * DAY,
        ),
    ]
    for label, envelope, kind, at in attempts:
        try:
            verifier.verify(envelope, kind, now=at)
            table.add_row(label, "accepted (unexpected)")
        except SmartLicError as exc:
            mnemonic = (
                "TRUST_CODE_INSTALL_FAILED"
                if kind is ArtifactType.TRUST_CODE
                else "POLICY_INSTALL_FAILED"
            )
            args = (
                (str(udi), sysmsg.SIGNATURE_MISMATCH)
                if kind is ArtifactType.TRUST_CODE
                else (exc.reason,)
            )
            table.add_row(label, sysmsg.format_message(mnemonic, *args))
    console.print(table)
    console.print(
        "\nThe same steps with an authority, a utility and a fleet over real HTTP and SSH: "
        "`smartlic lab demo` (docs/lab.md)."
    )
