"""The one message model between product instance, utility and authority (DESIGN.md §3).

The same requests and responses travel over HTTP push, HTTP pull and files, so one verifier and
one state machine serve every carrier. The wire form is JSON; ``docs/protocol.md`` specifies it
with its HTTP binding. Requests say what the sender *has* (``InstanceState``) so the receiver can
re-furnish what is missing — the mechanism behind the seed excerpt's missing-policy procedures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from smartlic.core import jsonio
from smartlic.core.envelope import Envelope, plain_envelope, read_sudi
from smartlic.core.errors import FormatError, SmartLicError, error_from_code
from smartlic.core.udi import HaSet, Udi

PROTOCOL = "smartlic-slp/1"
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Largest request or response body; a usage report batch past this must be split."""
MAX_REPORTS_PER_MESSAGE = 5000

PUSH_PATHS = ("/cslu/v1/pi", "/licservice/license")
"""Where product instances POST their messages (with ``/<tenant>`` after ``/cslu/v1/pi``)."""

PUSH_ENDPOINT_GET = (
    "This is a Smart Licensing Using Policy push endpoint: product instances POST their "
    "messages here (usage reports, trust and authorization requests, polls). There is nothing "
    "to GET; see docs/protocol.md."
)
"""The answer to a person who opens a push endpoint in a browser (with 405 and ``Allow: POST``)."""


def is_push_path(path: str) -> bool:
    return path in PUSH_PATHS or path.startswith(PUSH_PATHS[0] + "/")


class Kind(StrEnum):
    USAGE_REPORT = "usage_report"
    TRUST_REQUEST = "trust_request"
    AUTHORIZATION_REQUEST = "authorization_request"
    AUTHORIZATION_RETURN = "authorization_return"
    HELLO = "hello"
    RESULT_POLL = "result_poll"


class Status(StrEnum):
    OK = "OK"
    OK_POLL = "OK_POLL"
    ERROR = "ERROR"


_KINDS = tuple(k.value for k in Kind)
_STATUSES = tuple(s.value for s in Status)


@dataclass(frozen=True)
class InstanceState:
    """What the instance already holds, so the peer knows what to send back."""

    policy_issued_at: int | None = None
    keyset_version: int = 0
    trust_installed: bool = False
    slac_code_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "policy_issued_at": self.policy_issued_at,
            "keyset_version": self.keyset_version,
            "trust_installed": self.trust_installed,
            "slac_code_ids": list(self.slac_code_ids),
        }

    @classmethod
    def from_json(cls, f: jsonio.Fields) -> InstanceState:
        out = cls(
            policy_issued_at=f.opt_int("policy_issued_at", min=0),
            keyset_version=f.int("keyset_version", min=0),
            trust_installed=f.bool("trust_installed"),
            slac_code_ids=tuple(f.strs("slac_code_ids", max_items=64, max_len=64)),
        )
        f.done()
        return out


@dataclass(frozen=True)
class Request:
    """One request from a product instance (or a utility acting for one).

    ``body`` holds the kind-specific fields: ``reports`` (usage_report), ``artifact`` (the signed
    trust request, or the signed return code of an authorization_return),
    ``mode``/``feature``/``count``/``scope`` (authorization_request), ``poll_id`` (result_poll).
    """

    kind: Kind
    message_id: str
    sent_at: int
    udi: Udi
    ha: HaSet
    state: InstanceState = field(default_factory=InstanceState)
    hostname: str | None = None
    reports: tuple[Envelope, ...] = ()
    artifact: Envelope | None = None
    mode: str | None = None
    feature: str | None = None
    count: int | None = None
    scope: str | None = None
    poll_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.kind is Kind.USAGE_REPORT:
            body["reports"] = [r.to_json() for r in self.reports]
        elif self.kind in (Kind.TRUST_REQUEST, Kind.AUTHORIZATION_RETURN):
            if self.artifact is None:
                raise FormatError(f"{self.kind.value} needs its signed artifact")
            body["artifact"] = self.artifact.to_json()
        elif self.kind is Kind.AUTHORIZATION_REQUEST:
            body.update(mode=self.mode, feature=self.feature, count=self.count, scope=self.scope)
        elif self.kind is Kind.RESULT_POLL:
            body["poll_id"] = self.poll_id
        return {
            "protocol": PROTOCOL,
            "kind": self.kind.value,
            "message_id": self.message_id,
            "sent_at": self.sent_at,
            "sudi": self.udi.to_sudi(),
            "ha_udi": self.ha.to_json(),
            "hostname": self.hostname,
            "state": self.state.to_json(),
            "body": body,
        }

    def to_bytes(self) -> bytes:
        return jsonio.dumps(self.to_json())

    @classmethod
    def parse(cls, data: bytes | str, *, limit: int = MAX_MESSAGE_BYTES) -> Request:
        fast = _plain_usage_report(data, limit)
        obj = fast[0] if fast is not None else jsonio.loads(data, what="request", limit=limit)
        f = jsonio.Fields(obj, "request")
        f.choice("protocol", (PROTOCOL,))
        kind = Kind(f.choice("kind", _KINDS))
        udi = read_sudi(f.obj("sudi"))
        common: dict[str, Any] = {
            "kind": kind,
            "message_id": f.str("message_id", max_len=64, allow_empty=False),
            "sent_at": f.int("sent_at", min=0),
            "udi": udi,
            "ha": HaSet.from_json(f.list("ha_udi", max_items=16), "request.ha_udi"),
            "hostname": f.opt_str("hostname", max_len=200),
            "state": InstanceState.from_json(f.obj("state")),
        }
        body = f.obj("body")
        if kind is Kind.USAGE_REPORT:
            items = body.list("reports", max_items=MAX_REPORTS_PER_MESSAGE)
            common["reports"] = (
                fast[1]
                if fast is not None
                else tuple(
                    Envelope.from_json(item, path=f"request.body.reports[{i}]")
                    for i, item in enumerate(items)
                )
            )
        elif kind in (Kind.TRUST_REQUEST, Kind.AUTHORIZATION_RETURN):
            common["artifact"] = Envelope.from_json(
                body.any("artifact"), path="request.body.artifact"
            )
        elif kind is Kind.AUTHORIZATION_REQUEST:
            common["mode"] = body.choice("mode", ("add", "replace"))
            common["feature"] = body.str("feature", max_len=200, allow_empty=False)
            common["count"] = body.int("count", min=1, max=1_000_000)
            common["scope"] = body.choice("scope", ("local", "all"))
        elif kind is Kind.RESULT_POLL:
            common["poll_id"] = body.str("poll_id", max_len=64, allow_empty=False)
        body.done()
        f.done()
        if not common["ha"].contains(udi):
            raise FormatError("request.ha_udi: does not contain the sender's UDI")
        return cls(**common)


def _plain_usage_report(data: bytes | str, limit: int) -> tuple[Any, tuple[Envelope, ...]] | None:
    """A usage report whose document ``jsonio.loads`` would read as it is, with its reports
    already read, or None: then ``Request.parse`` decodes it the checked way, which refuses
    and names what is wrong.

    ``loads`` walks a decoded document for floats; in a batch of 5,000 reports that walk goes
    through 20,000 objects, all of them envelopes that the plain envelope reader checks leaf by
    leaf for its exact type anyway. So only the rest of the document is walked, and a report
    that the plain reader declines (a float, another shape) sends the whole request the checked
    way. The sender's UDI is read first, with its checks, so the reports' signature blocks find
    it known.
    """
    if not isinstance(data, bytes):
        return None
    obj = jsonio.loads_canonical(data, limit=limit)
    if type(obj) is not dict or obj.get("kind") != Kind.USAGE_REPORT.value:
        return None
    body = obj.get("body")
    items = body.get("reports") if type(body) is dict and len(body) == 1 else None
    if type(items) is not list or len(items) > MAX_REPORTS_PER_MESSAGE:
        return None
    if not jsonio.no_float_within([v for k, v in obj.items() if k != "body"]):
        return None
    sudi = obj.get("sudi")
    if type(sudi) is not dict:
        return None
    try:
        read_sudi(jsonio.Fields(sudi, "request.sudi"))
    except SmartLicError:
        return None
    reports = []
    for item in items:
        envelope = plain_envelope(item)
        if envelope is None:
            return None
        reports.append(envelope)
    return obj, tuple(reports)


@dataclass(frozen=True)
class Response:
    """``OK`` with artifacts, ``OK_POLL`` with a poll id and retry time, or ``ERROR``."""

    status: Status
    in_reply_to: str
    artifacts: tuple[Envelope, ...] = ()
    poll_id: str | None = None
    retry_after: int | None = None
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def ok(cls, in_reply_to: str, artifacts: tuple[Envelope, ...] = ()) -> Response:
        return cls(Status.OK, in_reply_to, artifacts=artifacts)

    @classmethod
    def poll(cls, in_reply_to: str, poll_id: str, retry_after: int) -> Response:
        return cls(Status.OK_POLL, in_reply_to, poll_id=poll_id, retry_after=retry_after)

    @classmethod
    def from_error(cls, in_reply_to: str, error: SmartLicError) -> Response:
        return cls(Status.ERROR, in_reply_to, error_code=error.code, error_message=error.reason)

    def raise_for_error(self) -> Response:
        """Turn an ``ERROR`` response back into the error the peer raised."""
        if self.status is Status.ERROR:
            raise error_from_code(self.error_code or "ERROR", self.error_message or "error")
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": PROTOCOL,
            "status": self.status.value,
            "in_reply_to": self.in_reply_to,
            "artifacts": [a.to_json() for a in self.artifacts],
            "poll_id": self.poll_id,
            "retry_after": self.retry_after,
            "error": (
                {"code": self.error_code, "message": self.error_message}
                if self.status is Status.ERROR
                else None
            ),
        }

    def to_bytes(self) -> bytes:
        return jsonio.dumps(self.to_json())

    @classmethod
    def parse(cls, data: bytes | str, *, limit: int = MAX_MESSAGE_BYTES) -> Response:
        f = jsonio.Fields(jsonio.loads(data, what="response", limit=limit), "response")
        f.choice("protocol", (PROTOCOL,))
        status = Status(f.choice("status", _STATUSES))
        in_reply_to = f.str("in_reply_to", max_len=64, allow_empty=False)
        artifacts = tuple(
            Envelope.from_json(item, path=f"response.artifacts[{i}]")
            for i, item in enumerate(f.list("artifacts", max_items=MAX_REPORTS_PER_MESSAGE))
        )
        poll_id = f.opt_str("poll_id", max_len=64)
        retry_after = f.opt_int("retry_after", min=0)
        error = f.opt_obj("error")
        f.done()
        code = message = None
        if error is not None:
            code = error.str("code", max_len=64)
            message = error.str("message", max_len=2000)
            error.done()
        if status is Status.OK_POLL and poll_id is None:
            raise FormatError("response.poll_id: missing for OK_POLL")
        if status is Status.ERROR and code is None:
            raise FormatError("response.error: missing for ERROR")
        if status is not Status.ERROR and error is not None:
            raise FormatError(f"response.error: not allowed with status {status.value}")
        return cls(status, in_reply_to, artifacts, poll_id, retry_after, code, message)


HTTP_STATUS = {
    "MALFORMED": 400,
    "OVERSIZED": 413,
    "WRONG_ARTIFACT_TYPE": 400,
    "SIGNATURE_MISMATCH": 403,
    "TIMESTAMP_MISMATCH": 403,
    "WRONG_UDI": 403,
    "ACCOUNT_MISMATCH": 403,
    "INVALID_TOKEN": 403,
    "VERIFICATION_FAILED": 403,
    "ROLLBACK": 409,
    "REPLAY": 409,
    "ALREADY_INSTALLED": 409,
    "COUNT_EXCEEDED": 409,
    "INSTALL_REFUSED": 409,
    "NOT_FOUND": 404,
    "RATE_LIMITED": 429,
}
"""HTTP status for an ``ERROR`` response by error code; anything else is 500 (retryable)."""


def http_status_for(response: Response) -> int:
    if response.status is Status.OK:
        return 200
    if response.status is Status.OK_POLL:
        return 202
    return HTTP_STATUS.get(response.error_code or "", 500)
