"""The CSSM-style requests over the same services: usage in, ACKs out; SLAC requests/returns.

Requests are processed at once, and the result is stored under a ``poll_id`` that
``v2/accounts/poll`` answers with ``COMPLETE`` (``smart_license``: base64 of the
``<smartLicense>`` XML) or ``FAILED`` (``message_code``, ``message``), as CSSM does.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from smartlic.authority.authorization.service import AuthorizationService
from smartlic.authority.context import Authority
from smartlic.authority.cssm.models import PollResult
from smartlic.authority.db import retrying, transaction
from smartlic.authority.usage.service import UsageService
from smartlic.core import xmlfile
from smartlic.core.envelope import FORMAT_VERSION, ArtifactType, Envelope
from smartlic.core.errors import FormatError, NotFoundError, SmartLicError
from smartlic.core.protocol import InstanceState
from smartlic.core.udi import Udi


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(f"{what}: expected an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise FormatError(f"{what}: expected a list")
    return value


def _udi(sudi: Any, what: str) -> Udi:
    sudi = _obj(sudi, what)
    pid, sn = sudi.get("udi_pid"), sudi.get("udi_serial_number")
    if not isinstance(pid, str) or not isinstance(sn, str):
        raise FormatError(f"{what}: udi_pid and udi_serial_number are required")
    return Udi.parse(f"PID:{pid},SN:{sn}")


def _usage_envelope(item: Any, what: str) -> Envelope:
    item = dict(_obj(item, what))
    item.setdefault("header", {"type": ArtifactType.RUM.value, "version": FORMAT_VERSION})
    return Envelope.from_json(item, path=what)


def _b64(envelopes: list[Envelope]) -> str:
    return base64.b64encode(xmlfile.write(envelopes)).decode("ascii")


def parse_remove_code(text: str) -> Envelope:
    """A return code given as XML, envelope JSON, or base64 of either."""
    raw = text.strip().encode()
    if not raw.startswith((b"<", b"{")):
        try:
            raw = base64.b64decode(raw, validate=True).strip()
        except (binascii.Error, ValueError):
            raise FormatError("remove_code is not XML, JSON or base64") from None
    if raw.startswith(b"<"):
        envelopes = xmlfile.read(raw)
        if len(envelopes) != 1:
            raise FormatError("remove_code must hold exactly one return code")
        return envelopes[0]
    return Envelope.parse(raw)


class CssmService:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.usage = UsageService(authority)
        self.codes = AuthorizationService(authority)

    def run(self, account_id: str, va_id: str, kind: str, data: dict[str, Any], actor: str) -> str:
        """Process a request now; store its outcome under a new poll id and return that id."""
        poll_id = secrets.token_hex(16)
        sessions: sessionmaker[Session] = self.authority.sessions

        def work(s: Session) -> None:
            if kind == "reportusage":
                artifacts = self._report_usage(s, account_id, va_id, data, actor)
            else:
                artifacts = self._auth_request(s, account_id, va_id, data, actor)
            s.add(self._result(account_id, poll_id, "COMPLETE", smart_license=_b64(artifacts)))

        try:
            retrying(sessions, work)  # a write conflict: roll back, run again (stored ACKs)
        except SmartLicError as exc:
            with transaction(sessions) as s:
                s.add(
                    self._result(
                        account_id, poll_id, "FAILED", message_code=exc.code, message=exc.reason
                    )
                )
        return poll_id

    def _result(self, account_id: str, poll_id: str, status: str, **kwargs: Any) -> PollResult:
        return PollResult(
            account_id=account_id,
            poll_id=poll_id,
            status=status,
            created_at=self.authority.now(),
            **kwargs,
        )

    def _report_usage(
        self, s: Session, account_id: str, va_id: str, data: dict[str, Any], actor: str
    ) -> list[Envelope]:
        acks: list[Envelope] = []
        for i, report in enumerate(_list(data.get("reports"), "data.reports")):
            report = _obj(report, f"data.reports[{i}]")
            udi = _udi(report.get("sudi"), f"data.reports[{i}].sudi")
            envelopes = [
                _usage_envelope(item, f"data.reports[{i}].usage[{j}]")
                for j, item in enumerate(_list(report.get("usage"), f"data.reports[{i}].usage"))
            ]
            acks.append(
                self.usage.ingest(
                    s, account_id, va_id, udi, envelopes, InstanceState(), actor=actor
                )
            )
        return acks

    def _auth_request(
        self, s: Session, account_id: str, va_id: str, data: dict[str, Any], actor: str
    ) -> list[Envelope]:
        out: list[Envelope] = []
        catalog = self.authority.catalog
        for i, entry in enumerate(_list(data.get("licenses"), "data.licenses")):
            entry = _obj(entry, f"data.licenses[{i}]")
            udi = _udi(entry.get("sudi"), f"data.licenses[{i}].sudi")
            keys = _list(entry.get("keys", []), f"data.licenses[{i}].keys")
            remove_code = entry.get("remove_code")
            if not keys and isinstance(remove_code, str):
                row = self.codes.give_back(
                    s, account_id, parse_remove_code(remove_code), sender=udi, actor=actor
                )
                out.append(Envelope.parse(row.envelope))
                continue
            for j, key in enumerate(keys):
                key = _obj(key, f"data.licenses[{i}].keys[{j}]")
                tag = key.get("entitlement")
                count = key.get("count", 1)
                if not isinstance(tag, str) or not isinstance(count, int) or count < 1:
                    raise FormatError(f"data.licenses[{i}].keys[{j}]: entitlement and count")
                name = catalog.by_tag(tag).name if tag not in catalog else tag
                out.append(self.codes.issue(s, account_id, va_id, udi, name, count, actor=actor))
        if not out:
            raise FormatError("data.licenses: nothing to do")
        return out

    def poll(self, s: Session, account_id: str, poll_id: str) -> dict[str, Any]:
        row = s.scalar(
            select(PollResult).where(
                PollResult.account_id == account_id, PollResult.poll_id == poll_id
            )
        )
        if row is None:
            raise NotFoundError(f"no poll id {poll_id!r} in this smart account")
        out: dict[str, Any] = {"status": row.status, "poll_id": row.poll_id}
        if row.status == "COMPLETE":
            out["smart_license"] = row.smart_license
        else:
            out["message_code"] = row.message_code
            out["message"] = row.message
        return out
