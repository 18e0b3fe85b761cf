"""Hand-made protocol messages for the bad-input and duplicate tests."""

from __future__ import annotations

import secrets
import time

from smartlic.core.artifacts import Measurement, RumReport
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.keys import SigningKey
from smartlic.core.protocol import InstanceState, Kind, Request
from smartlic.core.udi import HaSet, Udi


def rum(
    key: SigningKey, udi: Udi, report_id: int, count: int = 1, *, sudi: bool = False
) -> Envelope:
    """``sudi``: name the UDI in the signature block too, as devices do."""
    now = int(time.time())
    report = RumReport(
        report_id=report_id,
        asset_name="C9300",
        udi=udi,
        signing_type=SigningType.BUILTIN,
        public_key=key.public,
        entitlement_tag="regid.2017-03.com.cisco.advantagek9",
        license_name="network-advantage",
        software_version="17.4.1",
        hostname="forged",
        ha=HaSet.standalone(udi),
        utility_enabled=True,
        previous_report_id=0,
        measurements=(Measurement(now - 1800, now, now, 900, 2, count),),
    )
    return sign(
        ArtifactType.RUM, report.to_json(), key, SigningType.BUILTIN, sudi=udi if sudi else None
    )


def usage(udi: Udi, reports: list[Envelope], kind: Kind = Kind.USAGE_REPORT) -> Request:
    return Request(
        kind=kind,
        message_id=secrets.token_hex(16),
        sent_at=int(time.time()),
        udi=udi,
        ha=HaSet.standalone(udi),
        state=InstanceState(keyset_version=1),
        reports=tuple(reports),
    )


def poll(udi: Udi, poll_id: str) -> Request:
    return Request(
        kind=Kind.RESULT_POLL,
        message_id=secrets.token_hex(16),
        sent_at=int(time.time()),
        udi=udi,
        ha=HaSet.standalone(udi),
        poll_id=poll_id,
    )


def tampered(envelope: Envelope) -> Envelope:
    return Envelope(envelope.type, envelope.payload.replace("forged", "f0rged"), envelope.signature)
