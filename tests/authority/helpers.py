"""Test helpers: an authority world (account, VA, purchases) and a device that signs like one."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.context import Authority
from smartlic.authority.db import transaction
from smartlic.core.artifacts import Measurement, ReturnCode, RumReport, TrustRequest
from smartlic.core.catalog import default_catalog
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import Verifier
from smartlic.core.protocol import InstanceState, Kind, Request
from smartlic.core.udi import HaSet, Udi

T0 = 1_764_285_762
DAY = 86_400


@dataclass
class World:
    authority: Authority
    account_id: str
    va_id: str
    other_va_id: str
    other_account_id: str
    other_account_va_id: str
    tenant: str

    @classmethod
    def create(cls, authority: Authority) -> World:
        svc = AccountService(authority)
        with transaction(authority.sessions) as s:
            acct = svc.create_account(s, "SA-Test")
            va = svc.create_va(s, acct.id, "VA-One")
            va2 = svc.create_va(s, acct.id, "VA-Two")
            other = svc.create_account(s, "SA-Other")
            other_va = svc.create_va(s, other.id, "VA-Else")
            svc.add_purchase(s, acct.id, va.id, "dna-advantage", 10)
            svc.add_purchase(s, acct.id, va.id, "mrp-client", 2)
            svc.add_purchase(s, acct.id, va.id, "hseck9", 2)
            return cls(authority, acct.id, va.id, va2.id, other.id, other_va.id, va.tenant_id)

    def id_token(self, va_id: str | None = None, **kwargs: Any) -> str:
        with transaction(self.authority.sessions) as s:
            return (
                AccountService(self.authority)
                .create_id_token(s, self.account_id, va_id or self.va_id, **kwargs)
                .token
            )

    def api_token(
        self, va_id: str | None = None, role: str = "admin", account: str | None = None
    ) -> str:
        with transaction(self.authority.sessions) as s:
            return (
                AccountService(self.authority)
                .create_api_token(s, account or self.account_id, va_id=va_id, role=role)
                .token
            )

    def verifier(self) -> Verifier:
        return Verifier.from_anchor(self.authority.keys.anchor())


@dataclass
class Device:
    serial: str = field(default_factory=lambda: "FCW" + secrets.token_hex(4).upper())
    key: SigningKey = field(default_factory=SigningKey.generate)
    trusted: bool = False
    next_report: int = T0

    @property
    def udi(self) -> Udi:
        return Udi.parse(f"PID:C9300-24UX,SN:{self.serial}")

    @property
    def ha(self) -> HaSet:
        return HaSet.standalone(self.udi)

    def trust_request(
        self, token: str, *, timestamp: int = T0, key: SigningKey | None = None
    ) -> Envelope:
        req = TrustRequest(
            self.udi, self.ha, self.key.public, timestamp, secrets.token_hex(16), token
        )
        return sign(
            ArtifactType.TRUST_REQUEST,
            req.to_json(),
            key or self.key,
            SigningType.BUILTIN,
            sudi=self.udi,
        )

    def rum(
        self,
        count: int = 1,
        *,
        report_id: int | None = None,
        license_name: str = "dna-advantage",
        key: SigningKey | None = None,
    ) -> Envelope:
        lic = default_catalog().get(license_name)
        if report_id is None:
            self.next_report += 1
            report_id = self.next_report
        signing = SigningType.TRUST if self.trusted else SigningType.BUILTIN
        report = RumReport(
            report_id=report_id,
            asset_name=default_catalog().platform.software_id,
            udi=self.udi,
            signing_type=signing,
            public_key=(key or self.key).public,
            entitlement_tag=lic.entitlement_tag,
            license_name=lic.name,
            software_version="17.09.02",
            hostname="switch-1",
            ha=self.ha,
            utility_enabled=False,
            previous_report_id=0,
            measurements=(Measurement(T0 - 900 * 4, T0, T0, 900, 4, count),),
        )
        return sign(ArtifactType.RUM, report.to_json(), key or self.key, signing, sudi=self.udi)

    def request(self, kind: Kind, *, state: InstanceState | None = None, **kwargs: Any) -> Request:
        return Request(
            kind=kind,
            message_id=secrets.token_hex(16),
            sent_at=T0,
            udi=self.udi,
            ha=self.ha,
            state=state or InstanceState(),
            **kwargs,
        )

    def return_code(self, code_id: str, confirmation: str) -> Envelope:
        ret = ReturnCode(code_id, self.udi, confirmation, T0, self.key.public)
        return sign(
            ArtifactType.RETURN_CODE,
            ret.to_json(),
            self.key,
            SigningType.TRUST if self.trusted else SigningType.BUILTIN,
            sudi=self.udi,
        )


def ack_of(envelopes: Iterable[Envelope]) -> Envelope:
    """The one ACK among a response's or file's artifacts (key sets travel ahead of it)."""
    (ack,) = [e for e in envelopes if e.type is ArtifactType.ACK]
    return ack
