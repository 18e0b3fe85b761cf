"""The product-instance endpoint: ``core.protocol`` requests in, responses out (no HTTP here).

Placement (docs/protocol.md, "Identity and placement"): a trust request is placed by its ID
token; anything else by the tenant in the URL, else by the caller's API token (a utility), else
by where the UDI is already registered; an instance that cannot be placed gets ``NOT_FOUND``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from smartlic.authority import audit
from smartlic.authority.accounts.repository import Directory
from smartlic.authority.accounts.service import AccountService, Caller
from smartlic.authority.authorization.service import AuthorizationService
from smartlic.authority.context import Authority
from smartlic.authority.db import retrying
from smartlic.authority.ops import Metrics, RateLimitedError, RateLimiter, log_refusal
from smartlic.authority.policy.service import PolicyService
from smartlic.authority.trust.repository import placements
from smartlic.authority.trust.service import TrustService
from smartlic.authority.usage.service import UsageService
from smartlic.core.envelope import Envelope
from smartlic.core.errors import NotFoundError, SmartLicError, TokenError
from smartlic.core.protocol import HTTP_STATUS, InstanceState, Kind, Request, Response, Status
from smartlic.core.udi import Udi

log = logging.getLogger("smartlic.authority")
UNKNOWN_MESSAGE = "unknown"
"""``in_reply_to`` of an error answering a body whose ``message_id`` could not be read."""


def _guess_message_id(body: bytes) -> str:
    """The request's ``message_id`` if it can be read at all, so even a refusal names it."""
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return UNKNOWN_MESSAGE
    value = obj.get("message_id") if isinstance(obj, dict) else None
    if isinstance(value, str) and 0 < len(value) <= 64:
        return value
    return UNKNOWN_MESSAGE


@dataclass(frozen=True)
class Placement:
    account_id: str
    va_id: str


class ProtocolService:
    def __init__(
        self,
        authority: Authority,
        *,
        metrics: Metrics | None = None,
        trust_limiter: RateLimiter | None = None,
    ) -> None:
        self.authority = authority
        self.accounts = AccountService(authority)
        self.trust = TrustService(authority)
        self.usage = UsageService(authority)
        self.codes = AuthorizationService(authority)
        self.policies = PolicyService(authority)
        self.metrics = metrics or Metrics()
        self.trust_limiter = trust_limiter or RateLimiter(per_minute=0, burst=0)
        self.after_commit_hook: object = None
        """Tests set a callable here to simulate a crash after the commit, before the answer."""

    def handle(
        self,
        body: bytes,
        *,
        tenant: str | None = None,
        bearer: str | None = None,
        client: str = "local",
        fields: dict[str, Any] | None = None,
    ) -> Response:
        """Answer one request. ``fields`` (the request's log line) gets the account and, on a
        refusal, the code.

        One request is one transaction. A write conflict (two identical requests at once: the
        same report or ACK inserted twice) rolls back and runs the request again, which then
        finds the other's rows and answers from the stored ACK (never a 500).
        """
        message_id = UNKNOWN_MESSAGE
        placements_seen: list[Placement] = []
        kind = "unknown"
        udi = ""
        fields = fields if fields is not None else {}
        try:
            try:
                request = Request.parse(body)
            except SmartLicError:
                # Only a refused body is decoded a second time, to name its message id.
                message_id = _guess_message_id(body)
                raise
            message_id, kind, udi = request.message_id, request.kind.value, str(request.udi)
            fields.update(kind=kind, udi=udi)
            if request.kind is Kind.TRUST_REQUEST:
                self.trust_limiter.check(client, "trust")
            started = time.perf_counter()

            def work(session: Session) -> Response:
                if request.kind is Kind.TRUST_REQUEST:
                    return self._trust(session, request)
                placed = self._place(session, request.udi, tenant, bearer)
                placements_seen.append(placed)
                fields["account"] = placed.account_id
                return self._dispatch(session, request, placed)

            response = retrying(self.authority.sessions, work)
            self.metrics.messages.labels(kind, "ok").inc()
            if request.kind is Kind.USAGE_REPORT:
                self.metrics.reports.inc(len(request.reports))
                self.metrics.ack_seconds.observe(time.perf_counter() - started)
            hook = self.after_commit_hook
            if callable(hook):
                hook(request)
            return response
        except SmartLicError as exc:
            placed = placements_seen[-1] if placements_seen else None
            fields["code"] = exc.code
            log_refusal(
                {
                    "account": placed.account_id if placed else None,
                    "kind": kind,
                    "udi": udi or None,
                    "status": HTTP_STATUS.get(exc.code, 500),
                    "code": exc.code,
                    "reason": exc.reason,
                    **{k: v for k, v in fields.items() if k in ("route", "method", "client")},
                }
            )
            self.metrics.messages.labels(kind, "refused").inc()
            self.metrics.refusals.labels(exc.code).inc()
            if isinstance(exc, RateLimitedError):
                return Response(
                    Status.ERROR,
                    message_id,
                    retry_after=exc.retry_after,
                    error_code=exc.code,
                    error_message=exc.reason,
                )
            audit.record_refusal(
                self.authority.sessions,
                at=self.authority.now(),
                account_id=placed.account_id if placed else None,
                actor=f"instance {udi}" if udi else "unknown sender",
                action=f"protocol.{kind}",
                subject=udi,
                code=exc.code,
                reason=exc.reason,
            )
            return Response.from_error(message_id, exc)

    def _place(
        self, session: Session, udi: Udi, tenant: str | None, bearer: str | None
    ) -> Placement:
        caller: Caller | None = None
        if bearer is not None:
            caller = self.accounts.authenticate(session, bearer)
            if caller is None or caller.account_id is None:
                raise TokenError("the API token is not valid for this authority")
            if not caller.can_write:
                raise TokenError(
                    "a read-only token cannot send product-instance messages",
                    hint="Give the utility an admin or va-user API token of the virtual account.",
                )
        if tenant is not None:
            va = Directory(session).va_by_tenant(tenant)
            if caller is not None and (
                caller.account_id != va.account_id or not caller.sees(va.id)
            ):
                raise NotFoundError(f"no tenant {tenant!r}")
            return Placement(va.account_id, va.id)
        if caller is not None and caller.account_id is not None and caller.home_va is not None:
            return Placement(caller.account_id, caller.home_va)
        for row in placements(session, str(udi)):
            if caller is None or (row.account_id == caller.account_id and caller.sees(row.va_id)):
                return Placement(row.account_id, row.va_id)
        raise NotFoundError(
            f"product instance {udi} is not known here: establish trust with an ID token first",
            hint="Run `license smart trust idtoken <token> local` on the product instance.",
        )

    def _missing(
        self, session: Session, placed: Placement, udi: Udi, state: InstanceState
    ) -> list[Envelope]:
        out: list[Envelope] = []
        out.extend(self.authority.chain()[state.keyset_version :])
        current, policy = self.policies.grant(session, placed.account_id, placed.va_id, udi)
        if state.policy_issued_at is None or state.policy_issued_at < current.issued_at:
            out.append(policy)
        out.extend(self.codes.pending(session, placed.account_id, udi, state.slac_code_ids))
        return out

    def _trust(self, session: Session, request: Request) -> Response:
        if request.artifact is None:
            raise NotFoundError("trust request without its artifact")
        result = self.trust.establish(
            session, request.artifact, request.udi, actor=f"instance {request.udi}"
        )
        keysets = self.authority.chain()[request.state.keyset_version :]
        return Response.ok(request.message_id, (*keysets, result.trust_code, result.policy))

    def _dispatch(self, session: Session, request: Request, placed: Placement) -> Response:
        actor = f"instance {request.udi}"
        if request.kind is Kind.USAGE_REPORT:
            ack = self.usage.ingest(
                session,
                placed.account_id,
                placed.va_id,
                request.udi,
                request.reports,
                request.state,
                ha=request.ha,
                hostname=request.hostname,
                actor=actor,
            )
            # Key sets go first, on their own: the instance must trust the ACK's signing key.
            keysets = self.authority.chain()[request.state.keyset_version :]
            return Response.ok(request.message_id, (*keysets, ack))
        if request.kind is Kind.HELLO:
            missing = self._missing(session, placed, request.udi, request.state)
            return Response.ok(request.message_id, tuple(missing))
        if request.kind is Kind.AUTHORIZATION_REQUEST:
            slac = self.codes.issue(
                session,
                placed.account_id,
                placed.va_id,
                request.udi,
                request.feature or "",
                request.count or 1,
                replace=request.mode == "replace",
                actor=actor,
            )
            return Response.ok(request.message_id, (slac,))
        if request.kind is Kind.AUTHORIZATION_RETURN:
            if request.artifact is None:
                raise NotFoundError("authorization return without its return code")
            self.codes.give_back(
                session, placed.account_id, request.artifact, sender=request.udi, actor=actor
            )
            return Response.ok(request.message_id)
        raise NotFoundError(f"no pending result {request.poll_id!r}: this authority never polls")
