"""A small authority made of smartlic.core functions (real signing, as tests/vectors.py does).

It answers ``core.protocol`` requests the way docs/protocol.md says an authority does, keeps what
it received (to check that nothing is ever counted twice), and can be served over real HTTP on a
loopback port (``serve``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response as HttpResponse

from smartlic.core import protocol
from smartlic.core.artifacts import (
    Account,
    Ack,
    AckedReport,
    AuthorizationCode,
    AuthorizedLicense,
    PolicyGrant,
    ReturnCode,
    RumReport,
    TrustCode,
    TrustRequest,
    payload_digest,
)
from smartlic.core.catalog import default_catalog
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import (
    AccountMismatchError,
    CountExceededError,
    InstallError,
    ReplayError,
    SignatureMismatchError,
    SmartLicError,
    TimestampMismatchError,
    TokenError,
    WrongUdiError,
)
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import KeyEntry, KeySet, sign_keyset
from smartlic.core.policy import CISCO_DEFAULT, ClassOverrides, CustomPolicySpec, merge
from smartlic.core.protocol import Kind
from smartlic.core.protocol import Request as Message
from smartlic.core.protocol import Response as Reply
from smartlic.core.udi import Udi

T0 = 1_700_000_000  # Nov 14 22:13:20 2023 UTC
DAY = 86_400
YEAR = 365 * DAY
ACCOUNT = Account("SA-Test", "VA-Test")
UDI = Udi.parse("PID:C9300-24UX,SN:FCW2303D16Y")
OTHER_UDI = Udi.parse("PID:C9300-48T,SN:FCW9999X00Z")


@dataclass
class MiniAuthority:
    root: SigningKey = field(default_factory=SigningKey.generate)
    signing: SigningKey = field(default_factory=SigningKey.generate)
    account: Account = ACCOUNT
    now: int = T0
    """The authority's own clock (tests move it)."""
    policy: Envelope | None = None
    tokens: set[str] = field(default_factory=lambda: {"good-token"})
    placed: dict[Udi, Account] = field(default_factory=dict)
    purchased: dict[str, int] = field(default_factory=lambda: {"hseck9": 1})
    stored: dict[tuple[Udi, int], str] = field(default_factory=dict)
    received: list[int] = field(default_factory=list)
    """Every report id received, in order, including re-sends."""
    mode: str = "ok"
    """``ok``, or ``poll`` (answer usage with OK_POLL until ``release_polls``)."""
    polls: dict[str, Reply] = field(default_factory=dict)
    serial: int = 0
    issued: dict[str, tuple[str, int, Udi]] = field(default_factory=dict)
    """Authorization codes issued: code id → (license, count, UDI)."""
    returned: list[str] = field(default_factory=list)
    """Code ids returned (each frees its count once)."""
    returns_before_failure: int | None = None
    """Refuse the return after this many more succeed (None: never)."""
    requested: list[Udi] = field(default_factory=list)
    """The UDI of every authorization request, in order."""
    trusted: list[Udi] = field(default_factory=list)
    """The UDI of every trust request answered with a trust code, in order."""
    pending_slacs: dict[Udi, list[Envelope]] = field(default_factory=dict)
    """Authorization codes made offline for a UDI, furnished by ``hello`` until installed."""
    hellos: list[Udi] = field(default_factory=list)

    def __post_init__(self) -> None:
        keyset = KeySet(
            1, T0, self.root.public, (KeyEntry(self.signing.public, T0 - 30 * DAY, T0 + 5 * YEAR),)
        )
        self.anchor = sign_keyset(keyset, self.root)

    # --- artifacts ---------------------------------------------------------------------------

    def sign(self, kind: ArtifactType, payload: dict[str, object]) -> Envelope:
        return sign(kind, payload, self.signing, SigningType.AUTHORITY)

    def make_policy(
        self,
        name: str = "Custom Policy",
        serial: int = 1,
        issued_at: int | None = None,
        udi: Udi | None = None,
        days: int = 60,
    ) -> Envelope:
        from smartlic.core.license_class import PolicyClass

        spec = CustomPolicySpec(
            name=name,
            serial=serial,
            rules={PolicyClass.UNENFORCED_PERPETUAL: ClassOverrides(days, days, days)},
        )
        grant = PolicyGrant(
            merge(CISCO_DEFAULT, spec),
            self.account,
            self.now if issued_at is None else issued_at,
            udi,
        )
        return self.sign(ArtifactType.POLICY, grant.to_json())

    def make_ack(
        self,
        udi: Udi,
        reports: list[Envelope] | tuple[Envelope, ...],
        *,
        policy: Envelope | None = None,
        slacs: tuple[Envelope, ...] = (),
    ) -> Envelope:
        ack = Ack(
            secrets.token_hex(16),
            udi,
            self.account,
            self.now,
            tuple(
                AckedReport(RumReport.from_json(r.payload_json()).report_id, payload_digest(r))
                for r in reports
            ),
            policy=policy,
            slacs=slacs,
        )
        return self.sign(ArtifactType.ACK, ack.to_json())

    def make_trust_code(self, request: Envelope, *, issued_at: int | None = None) -> Envelope:
        tr = TrustRequest.from_json(request.payload_json())
        self.serial += 1
        code = TrustCode(
            tr.udi,
            tr.public_key,
            self.account,
            self.now if issued_at is None else issued_at,
            self.serial,
            tr.nonce,
        )
        return self.sign(ArtifactType.TRUST_CODE, code.to_json())

    def make_slac(self, udi: Udi, name: str = "hseck9", count: int = 1) -> Envelope:
        lic = default_catalog().get(name)
        code = AuthorizationCode(
            secrets.token_hex(16),
            udi,
            self.account,
            self.now,
            (AuthorizedLicense(lic.name, lic.entitlement_tag, count, "export_controlled"),),
            secrets.token_hex(4),
        )
        self.issued[code.code_id] = (name, count, udi)
        return self.sign(ArtifactType.SLAC, code.to_json())

    # --- protocol ----------------------------------------------------------------------------

    def answer(self, message: Message) -> Reply:
        try:
            return self._answer(message)
        except SmartLicError as exc:
            return Reply.from_error(message.message_id, exc)

    def _answer(self, m: Message) -> Reply:
        if m.kind is Kind.USAGE_REPORT:
            return self._usage(m)
        if m.kind is Kind.HELLO:
            self.hellos.append(m.udi)
            return Reply.ok(m.message_id, self._missing(m))
        if m.kind is Kind.RESULT_POLL:
            reply = self.polls.pop(m.poll_id or "", None)
            if reply is None:
                return Reply.poll(m.message_id, m.poll_id or "", 60)
            return reply
        if m.kind is Kind.TRUST_REQUEST:
            return self._trust(m)
        if m.kind is Kind.AUTHORIZATION_REQUEST:
            have = self.purchased.get(m.feature or "", 0)
            if (m.count or 0) > have:
                raise CountExceededError(f"{m.count} requested, {have} available")
            self.purchased[m.feature or ""] = have - (m.count or 0)
            slac = self.make_slac(m.udi, m.feature or "", m.count or 1)
            self.requested.append(m.udi)
            return Reply.ok(m.message_id, (slac,))
        if m.kind is Kind.AUTHORIZATION_RETURN:
            return self._return(m)
        raise SmartLicError("unsupported")

    def _missing(self, m: Message) -> tuple[Envelope, ...]:
        slacs = tuple(
            e
            for e in self.pending_slacs.get(m.udi, [])
            if e.payload_json()["code_id"] not in m.state.slac_code_ids
        )
        if self.policy is None:
            return slacs
        grant = PolicyGrant.from_json(self.policy.payload_json())
        have = m.state.policy_issued_at
        return ((self.policy,) if have is None or have < grant.issued_at else ()) + slacs

    def _usage(self, m: Message) -> Reply:
        checked = []
        for envelope in m.reports:
            report = RumReport.from_json(envelope.payload_json())
            envelope.verify_with(report.public_key)
            digest = payload_digest(envelope)
            known = self.stored.get((report.udi, report.report_id))
            if known is not None and known != digest:
                raise ReplayError(f"report {report.report_id} was stored with other content")
            checked.append((report, envelope, digest))
        for report, _, digest in checked:
            self.stored[(report.udi, report.report_id)] = digest
            self.received.append(report.report_id)
        policy = self._missing(m)
        ack = self.make_ack(m.udi, list(m.reports), policy=policy[0] if policy else None)
        if self.mode == "poll":
            poll_id = secrets.token_hex(8)
            self.polls[poll_id] = Reply.ok(m.message_id, (ack,))
            return Reply.poll(m.message_id, poll_id, 3600)
        return Reply.ok(m.message_id, (ack,))

    def _return(self, m: Message) -> Reply:
        """Verify the instance-signed return code and free the count, once per code."""
        assert m.artifact is not None
        ret = ReturnCode.from_json(m.artifact.payload_json())
        m.artifact.verify_with(ret.public_key)
        if ret.udi != m.udi:
            raise WrongUdiError(f"the return code is for {ret.udi}, sent by {m.udi}")
        if ret.code_id in self.returned:
            raise InstallError(f"authorization code {ret.code_id} was already returned")
        if self.returns_before_failure is not None:
            if self.returns_before_failure == 0:
                raise SignatureMismatchError("return refused (test)")
            self.returns_before_failure -= 1
        name, count, _ = self.issued[ret.code_id]
        self.purchased[name] = self.purchased.get(name, 0) + count
        self.returned.append(ret.code_id)
        return Reply.ok(m.message_id)

    def _trust(self, m: Message) -> Reply:
        assert m.artifact is not None
        tr = TrustRequest.from_json(m.artifact.payload_json())
        m.artifact.verify_with(tr.public_key)
        if abs(tr.timestamp - self.now) > 3600:
            raise TimestampMismatchError("the request timestamp is more than one hour off")
        if tr.id_token not in self.tokens:
            raise TokenError("unknown ID token")
        placed = self.placed.get(tr.udi)
        if placed is not None and placed != self.account:
            raise AccountMismatchError("the UDI is registered in another virtual account")
        if tr.udi != m.udi:
            raise WrongUdiError(f"the trust request is for {tr.udi}, sent by {m.udi}")
        self.placed[tr.udi] = self.account
        self.trusted.append(tr.udi)
        artifacts = [self.make_trust_code(m.artifact)]
        if self.policy is not None:
            artifacts.append(self.policy)
        return Reply.ok(m.message_id, tuple(artifacts))

    # --- HTTP --------------------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()
        self.fail_next: int = 0
        self.fail_after: int | None = None
        """Answer 502 to every request after this many more succeed (None: never)."""

        async def endpoint(request: Request) -> HttpResponse:
            if self.fail_after is not None:
                if self.fail_after == 0:
                    return HttpResponse(status_code=502, content=b"bad gateway")
                self.fail_after -= 1
            if self.fail_next:
                self.fail_next -= 1
                return HttpResponse(status_code=502, content=b"bad gateway")
            body = await request.body()
            try:
                message = Message.parse(body)
            except SmartLicError as exc:
                reply = Reply.from_error("unknown", exc)
            else:
                reply = self.answer(message)
            return HttpResponse(
                reply.to_bytes(),
                status_code=protocol.http_status_for(reply),
                media_type="application/json",
            )

        app.add_api_route("/cslu/v1/pi", endpoint, methods=["POST"])
        app.add_api_route("/licservice/license", endpoint, methods=["POST"])
        return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port; yields the base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def signature_mismatch() -> type[SmartLicError]:
    return SignatureMismatchError
