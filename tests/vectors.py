"""A small, fully deterministic SLP world: fixed keys, fixed times, one artifact of each type.

Used by the golden-vector test (which checks the checked-in files still verify and that today's
code still produces them byte for byte) and by ``scripts/make_golden_vectors.py`` (the only thing
that rewrites them). Ed25519 signatures are deterministic, and the bundles fix their gzip and tar
times, so the same code gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from smartlic.core import bundle, xmlfile
from smartlic.core.artifacts import (
    Account,
    Ack,
    AckedReport,
    AuthorizationCode,
    AuthorizedLicense,
    BundleManifest,
    Measurement,
    PolicyGrant,
    PurchaseLine,
    ReturnCode,
    RumReport,
    TrustCode,
    TrustRequest,
    payload_digest,
)
from smartlic.core.catalog import default_catalog
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import KeyEntry, KeySet, sign_keyset
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import CISCO_DEFAULT, ClassOverrides, CustomPolicySpec, merge
from smartlic.core.udi import HaMember, HaRole, HaSet, Udi

T0 = 1_634_211_151  # Oct 14 11:32:31 2021 UTC, the era of the reference's samples
DAY = 86_400


def seeded(label: str) -> SigningKey:
    import hashlib

    return SigningKey.from_raw(hashlib.sha256(b"smartlic golden " + label.encode()).digest())


ROOT = seeded("authority root")
ROOT_2 = seeded("authority root 2")
SIGNING = seeded("authority signing 1")
SIGNING_2 = seeded("authority signing 2")
INSTANCE = seeded("instance FCW2303D16Y")
UTILITY = seeded("utility")
UDI = Udi.parse("PID:C9300-24UX,SN:FCW2303D16Y")
HA = HaSet(
    (
        HaMember(HaRole.ACTIVE, UDI),
        HaMember(HaRole.STANDBY, Udi.parse("PID:C9300-24U,SN:FHH2043P09E")),
        HaMember(HaRole.MEMBER, Udi.parse("PID:C9300-48T,SN:FCW2139L056")),
    )
)
ACCOUNT = Account("SA-Switching-Polaris", "SLE_Test")


@dataclass(frozen=True)
class World:
    files: dict[str, bytes]
    keysets: list[Envelope]


def keysets() -> list[Envelope]:
    v1 = KeySet(1, T0, ROOT.public, (KeyEntry(SIGNING.public, T0 - DAY, T0 + 730 * DAY),))
    v2 = KeySet(
        2,
        T0 + 300 * DAY,
        ROOT_2.public,
        (
            KeyEntry(SIGNING.public, T0 - DAY, T0 + 730 * DAY),
            KeyEntry(SIGNING_2.public, T0 + 300 * DAY, T0 + 1100 * DAY),
        ),
    )
    return [sign_keyset(v1, ROOT), sign_keyset(v2, ROOT)]


def custom_policy() -> PolicyGrant:
    spec = CustomPolicySpec(
        name="Custom Policy",
        serial=3,
        rules={
            PolicyClass.UNENFORCED_SUBSCRIPTION: ClassOverrides(60, 60, 60),
            PolicyClass.ENFORCED: ClassOverrides(None, 90, 60),
        },
    )
    return PolicyGrant(merge(CISCO_DEFAULT, spec), ACCOUNT, T0 + 100)


def rum_report() -> RumReport:
    lic = default_catalog().get("dna-advantage")
    return RumReport(
        report_id=T0,
        asset_name=default_catalog().platform.software_id,
        udi=UDI,
        signing_type=SigningType.TRUST,
        public_key=INSTANCE.public,
        entitlement_tag=lic.entitlement_tag,
        license_name=lic.name,
        software_version="17.09.02",
        hostname="switch-1",
        ha=HA,
        utility_enabled=False,
        previous_report_id=T0 - 900,
        measurements=(
            Measurement(
                T0,
                T0 + 900 * 96,
                T0 + 900 * 96,
                900,
                96,
                2,
                {"close_reason": "CurrentUsageRequested"},
            ),
        ),
    )


def build() -> World:
    files: dict[str, bytes] = {}
    chain = keysets()
    files["keyset_v1.xml"] = xmlfile.write([chain[0]])
    files["keyset_v2.xml"] = xmlfile.write([chain[1]])

    policy = sign(ArtifactType.POLICY, custom_policy().to_json(), SIGNING, SigningType.AUTHORITY)
    files["policy.xml"] = xmlfile.write([policy])

    request = TrustRequest(
        UDI,
        HA,
        INSTANCE.public,
        T0,
        "00112233445566778899aabbccddeeff",
        "ZmFrZS10b2tlbg",
        "switch-1",
    )
    request_env = sign(
        ArtifactType.TRUST_REQUEST, request.to_json(), INSTANCE, SigningType.BUILTIN, sudi=UDI
    )
    files["trust_request.xml"] = xmlfile.write([request_env])

    trust = TrustCode(UDI, INSTANCE.public, ACCOUNT, T0 + 60, 1, request.nonce)
    trust_env = sign(ArtifactType.TRUST_CODE, trust.to_json(), SIGNING, SigningType.AUTHORITY)
    files["trust_code.xml"] = xmlfile.write([trust_env])

    rum_env = sign(ArtifactType.RUM, rum_report().to_json(), INSTANCE, SigningType.TRUST, sudi=UDI)
    files["rum.xml"] = xmlfile.write([rum_env])

    hsec = default_catalog().get("hseck9")
    slac = AuthorizationCode(
        "3f6c1d2e5b7a4c8d9e0f1a2b3c4d5e6f",
        UDI,
        ACCOUNT,
        T0 + 120,
        (AuthorizedLicense(hsec.name, hsec.entitlement_tag, 1, "export_controlled"),),
        "1fc54c75",
    )
    slac_env = sign(ArtifactType.SLAC, slac.to_json(), SIGNING, SigningType.AUTHORITY)
    files["slac.xml"] = xmlfile.write([slac_env])

    ack = Ack(
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        UDI,
        ACCOUNT,
        T0 + 3600,
        (AckedReport(T0, payload_digest(rum_env)),),
        policy=policy,
        slacs=(slac_env,),
        keysets=tuple(chain),
        purchases=(
            PurchaseLine(
                "dna-advantage",
                default_catalog().get("dna-advantage").entitlement_tag,
                10,
                T0 + 1095 * DAY,
            ),
        ),
    )
    ack_env = sign(ArtifactType.ACK, ack.to_json(), SIGNING, SigningType.AUTHORITY)
    files["ack.xml"] = xmlfile.write([ack_env])

    ret = ReturnCode(slac.code_id, UDI, slac.confirmation_code, T0 + 7200, INSTANCE.public)
    files["return_code.xml"] = xmlfile.write(
        [sign(ArtifactType.RETURN_CODE, ret.to_json(), INSTANCE, SigningType.TRUST, sudi=UDI)]
    )

    usage_member = bundle.Member(f"{UDI.sn}_{UDI.pid}.xml", files["rum.xml"])
    usage_manifest = BundleManifest(
        "0badc0de0badc0de0badc0de0badc0de",
        T0 + 1800,
        "smartlic utility",
        (bundle.entry_for(usage_member, UDI, 1),),
        account=ACCOUNT,
        signer_public_key=UTILITY.public,
    )
    out = io.BytesIO()
    bundle.write(
        out,
        ArtifactType.USAGE_FILE,
        usage_manifest,
        sign(ArtifactType.USAGE_FILE, usage_manifest.to_json(), UTILITY, SigningType.UTILITY),
        [usage_member],
    )
    files["usage_file.tar.gz"] = out.getvalue()

    ack_member = bundle.Member(f"ACK_{UDI.sn}_{UDI.pid}.xml", files["ack.xml"])
    ack_manifest = BundleManifest(
        "feedfacefeedfacefeedfacefeedface",
        T0 + 3600,
        "smartlic authority",
        (bundle.entry_for(ack_member, UDI, 1),),
        account=ACCOUNT,
        in_reply_to=usage_manifest.bundle_id,
    )
    out = io.BytesIO()
    bundle.write(
        out,
        ArtifactType.ACK_FILE,
        ack_manifest,
        sign(ArtifactType.ACK_FILE, ack_manifest.to_json(), SIGNING, SigningType.AUTHORITY),
        [ack_member],
    )
    files["ack_file.tar.gz"] = out.getvalue()
    return World(files=files, keysets=chain)
