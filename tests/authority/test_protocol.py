"""The product-instance conversation (docs/protocol.md), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.clock import FixedClock
from smartlic.authority.db import transaction
from smartlic.authority.endpoint import ProtocolService
from smartlic.authority.usage.models import UsageReport
from smartlic.core.artifacts import Ack, AuthorizationCode, PolicyGrant, TrustCode
from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.keys import SigningKey
from smartlic.core.protocol import InstanceState, Kind, Response, Status, http_status_for
from tests.authority.helpers import DAY, T0, Device, World, ack_of


def send(world: World, req_bytes: bytes, **kwargs: object) -> Response:
    return ProtocolService(world.authority).handle(req_bytes, **kwargs)  # type: ignore[arg-type]


def trust(world: World, device: Device, token: str | None = None) -> Response:
    token = token or world.id_token()
    req = device.request(Kind.TRUST_REQUEST, artifact=device.trust_request(token))
    response = send(world, req.to_bytes())
    if response.status is Status.OK:
        device.trusted = True
    return response


def stored_reports(world: World) -> int:
    with world.authority.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(UsageReport)) or 0)


def the(response: Response, kind: ArtifactType) -> list[Envelope]:
    return [a for a in response.artifacts if a.type is kind]


def test_trust_gives_a_node_locked_code_that_verifies(world: World) -> None:
    device = Device()
    response = trust(world, device)
    assert response.status is Status.OK, response.error_message
    verifier = world.verifier()
    verifier.update(the(response, ArtifactType.KEYSET))
    code = TrustCode.from_json(
        verifier.verify(the(response, ArtifactType.TRUST_CODE)[0], ArtifactType.TRUST_CODE, now=T0)
    )
    assert code.udi == device.udi
    assert code.public_key == device.key.public
    assert code.account.smart_account == "SA-Test"
    assert code.account.virtual_account == "VA-One"
    grant = PolicyGrant.from_json(
        verifier.verify(the(response, ArtifactType.POLICY)[0], ArtifactType.POLICY, now=T0)
    )
    assert grant.policy.is_default


def test_trust_timestamp_mismatch(world: World) -> None:
    device = Device()
    req = device.request(
        Kind.TRUST_REQUEST, artifact=device.trust_request(world.id_token(), timestamp=T0 - 3601)
    )
    response = send(world, req.to_bytes())
    assert response.error_code == "TIMESTAMP_MISMATCH"
    assert http_status_for(response) == 403


def test_trust_sa_va_mismatch(world: World) -> None:
    device = Device()
    assert trust(world, device).status is Status.OK
    response = trust(world, device, world.id_token(world.other_va_id))
    assert response.error_code == "ACCOUNT_MISMATCH"
    assert "mismatch" in (response.error_message or "")


def test_trust_expired_token(world: World, clock: FixedClock) -> None:
    token = world.id_token(expires_days=1)
    clock.advance(2 * DAY)
    device = Device()
    req = device.request(
        Kind.TRUST_REQUEST, artifact=device.trust_request(token, timestamp=clock.now())
    )
    response = send(world, req.to_bytes())
    assert response.error_code == "INVALID_TOKEN"
    assert "expired" in (response.error_message or "")


def test_trust_revoked_token(world: World) -> None:
    token = world.id_token()
    with transaction(world.authority.sessions) as s:
        svc = AccountService(world.authority)
        (row,) = svc_tokens(s, world)
        svc.revoke_id_token(s, world.account_id, row)
    response = trust(world, Device(), token)
    assert response.error_code == "INVALID_TOKEN"
    assert "revoked" in (response.error_message or "")


def svc_tokens(s: object, world: World) -> list[str]:
    from smartlic.authority.accounts.repository import AccountRepository

    return [t.id for t in AccountRepository(s, world.account_id).id_tokens()]  # type: ignore[arg-type]


def test_trust_used_up_token(world: World) -> None:
    token = world.id_token(max_uses=1)
    assert trust(world, Device(), token).status is Status.OK
    response = trust(world, Device(), token)
    assert response.error_code == "INVALID_TOKEN"
    assert "maximum" in (response.error_message or "")


def test_trust_bad_proof_of_possession(world: World) -> None:
    device = Device()
    forged = device.trust_request(world.id_token(), key=SigningKey.generate())
    response = send(world, device.request(Kind.TRUST_REQUEST, artifact=forged).to_bytes())
    assert response.error_code == "SIGNATURE_MISMATCH"
    assert "proof of possession" in (response.error_message or "")


def test_usage_from_unplaced_instance_is_not_found(world: World) -> None:
    device = Device()
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),))
    response = send(world, req.to_bytes())
    assert response.error_code == "NOT_FOUND"
    assert http_status_for(response) == 404


def test_trusted_usage_is_acked_with_digests(world: World) -> None:
    device = Device()
    trust(world, device)
    reports = (device.rum(3), device.rum(4))
    response = send(world, device.request(Kind.USAGE_REPORT, reports=reports).to_bytes())
    assert response.status is Status.OK, response.error_message
    ack_env = ack_of(response.artifacts)
    assert response.artifacts[0].type is ArtifactType.KEYSET  # key sets travel first
    verifier = world.verifier()
    ack = Ack.from_json(verifier.verify(ack_env, ArtifactType.ACK, now=T0))
    assert ack.udi == device.udi
    assert [a.status for a in ack.acked] == ["ACCEPTED", "ACCEPTED"]
    assert ack.account.virtual_account == "VA-One"
    assert ack.policy is not None  # state shows no policy
    assert len(ack.keysets) == 1  # state shows key set version 0


def test_ack_leaves_out_what_the_instance_has(world: World) -> None:
    device = Device()
    trust(world, device)
    state = InstanceState(policy_issued_at=0, keyset_version=1, trust_installed=True)
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),), state=state)
    ack = Ack.from_json(ack_of(send(world, req.to_bytes()).artifacts).payload_json())
    assert ack.policy is None
    assert ack.keysets == ()


def test_builtin_usage_through_tenant_is_untrusted(world: World) -> None:
    device = Device()
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),))
    response = send(world, req.to_bytes(), tenant=world.tenant)
    ack = Ack.from_json(ack_of(response.artifacts).payload_json())
    assert [a.status for a in ack.acked] == ["UNTRUSTED"]


def test_wrong_key_trusted_report(world: World) -> None:
    device = Device()
    trust(world, device)
    bad = device.rum(key=SigningKey.generate())
    response = send(world, device.request(Kind.USAGE_REPORT, reports=(bad,)).to_bytes())
    assert response.error_code == "SIGNATURE_MISMATCH"
    assert stored_reports(world) == 0


def test_replayed_report_id_with_other_content(world: World) -> None:
    device = Device()
    trust(world, device)
    first = device.rum(1, report_id=T0 + 5)
    assert (
        send(world, device.request(Kind.USAGE_REPORT, reports=(first,)).to_bytes()).status
        is Status.OK
    )
    other = device.rum(7, report_id=T0 + 5)
    fresh = device.rum(2)
    response = send(world, device.request(Kind.USAGE_REPORT, reports=(fresh, other)).to_bytes())
    assert response.error_code == "REPLAY"
    assert http_status_for(response) == 409
    assert stored_reports(world) == 1  # the fresh report of the refused request was not stored


def test_idempotent_resend_gives_the_same_ack(world: World) -> None:
    device = Device()
    trust(world, device)
    reports = (device.rum(1), device.rum(2))
    a = send(world, device.request(Kind.USAGE_REPORT, reports=reports).to_bytes())
    world.authority.clock.advance(60)  # type: ignore[attr-defined]
    b = send(world, device.request(Kind.USAGE_REPORT, reports=reports).to_bytes())
    assert ack_of(a.artifacts).to_bytes() == ack_of(b.artifacts).to_bytes()
    assert stored_reports(world) == 2


def test_crash_after_commit_then_resend(world: World) -> None:
    device = Device()
    trust(world, device)
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(5),))
    service = ProtocolService(world.authority)

    def crash(_request: object) -> None:
        raise RuntimeError("power cut before the answer")

    service.after_commit_hook = crash
    with pytest.raises(RuntimeError):
        service.handle(req.to_bytes())
    response = ProtocolService(world.authority).handle(req.to_bytes())
    assert stored_reports(world) == 1
    ack = Ack.from_json(
        world.verifier().verify(ack_of(response.artifacts), ArtifactType.ACK, now=T0)
    )
    assert len(ack.acked) == 1


def test_slac_issue_count_exceeded_and_return(world: World) -> None:
    device = Device()
    trust(world, device)
    req = device.request(
        Kind.AUTHORIZATION_REQUEST, mode="add", feature="mrp-client", count=2, scope="local"
    )
    response = send(world, req.to_bytes())
    assert response.status is Status.OK, response.error_message
    code = AuthorizationCode.from_json(
        world.verifier().verify(response.artifacts[0], ArtifactType.SLAC, now=T0)
    )
    assert len(code.confirmation_code) == 8
    int(code.confirmation_code, 16)
    more = device.request(
        Kind.AUTHORIZATION_REQUEST, mode="add", feature="mrp-client", count=1, scope="local"
    )
    refused = send(world, more.to_bytes())
    assert refused.error_code == "COUNT_EXCEEDED"
    ret = device.request(
        Kind.AUTHORIZATION_RETURN,
        artifact=device.return_code(code.code_id, code.confirmation_code),
    )
    assert send(world, ret.to_bytes()).status is Status.OK
    assert send(world, more.to_bytes()).status is Status.OK


def test_export_controlled_not_allowed(world: World) -> None:
    device = Device()
    trust(world, device)
    req = device.request(
        Kind.AUTHORIZATION_REQUEST, mode="add", feature="hseck9", count=1, scope="local"
    )
    response = send(world, req.to_bytes())
    assert response.error_code == "INSTALL_REFUSED"
    assert "export-controlled" in (response.error_message or "")
    allowed = Device()
    trust(world, allowed, world.id_token(allow_export=True))
    req = allowed.request(
        Kind.AUTHORIZATION_REQUEST, mode="add", feature="hseck9", count=1, scope="local"
    )
    assert send(world, req.to_bytes()).status is Status.OK


def test_hello_refurnishes_missing_slac(world: World) -> None:
    device = Device()
    trust(world, device)
    req = device.request(
        Kind.AUTHORIZATION_REQUEST, mode="add", feature="mrp-client", count=1, scope="local"
    )
    send(world, req.to_bytes())
    hello = send(world, device.request(Kind.HELLO).to_bytes())
    kinds = sorted(a.type.value for a in hello.artifacts)
    assert kinds == ["keyset", "policy", "slac"]


def test_malformed_body(world: World) -> None:
    response = send(world, b'{"protocol": "smartlic-slp/1", "kind": "hello"')
    assert response.error_code == "MALFORMED"
    assert http_status_for(response) == 400


def test_issuance_refusal_and_admin_change_are_audited(world: World) -> None:
    from smartlic.authority.accounts.models import AuditEntry

    device = Device()
    trust(world, device)
    req = device.request(
        Kind.TRUST_REQUEST,
        artifact=device.trust_request(world.id_token(world.other_va_id)),
    )
    send(world, req.to_bytes())
    with world.authority.sessions() as s:
        rows = {(r.action, r.outcome) for r in s.scalars(select(AuditEntry))}
    assert ("trust_code.issue", "ok") in rows
    assert ("protocol.trust_request", "refused") in rows
    assert ("id_token.create", "ok") in rows
    assert ("purchase.add", "ok") in rows


def test_expired_subscription_does_not_count(world: World, clock: FixedClock) -> None:
    with transaction(world.authority.sessions) as s:
        AccountService(world.authority).add_purchase(
            s, world.account_id, world.other_va_id, "mrp-client", 1, end_at=T0 + DAY
        )
    device = Device()
    req = device.request(
        Kind.AUTHORIZATION_REQUEST, mode="add", feature="mrp-client", count=1, scope="local"
    )
    clock.advance(2 * DAY)
    other = world.api_token(world.other_va_id)
    response = send(world, req.to_bytes(), bearer=other)
    assert response.error_code == "COUNT_EXCEEDED"
