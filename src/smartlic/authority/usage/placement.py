"""Where the senders of a usage report live, in the few Core statements the ingest path affords.

The rules are those of ``trust.service.find_placement`` / ``place_instance``: a UDI registered in
another smart account or virtual account is an SA-VA mismatch, an unknown one is registered in
the virtual account the request was placed in. Ingestion reads every HA member's registration
in one query (before verifying anything), then inserts or touches rows with one statement each,
without loading ORM objects: at thousands of reports a second the unit of work costs more than
the statements it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from smartlic.authority.db import Base, new_id
from smartlic.authority.trust.models import ProductInstance
from smartlic.core.errors import AccountMismatchError
from smartlic.core.keys import VerifyKey

_INSTANCES = Base.metadata.tables[ProductInstance.__tablename__]
_C = _INSTANCES.c
# Built once: building a statement costs about as much as running it on the ingest path.
_REGISTRATIONS = select(
    _C.id, _C.account_id, _C.va_id, _C.udi, _C.hostname, _C.trusted, _C.public_key
).where(_C.udi.in_(bindparam("udis", expanding=True)))
_REGISTER = insert(_INSTANCES)
_TOUCH = (
    update(_INSTANCES)
    .where(_C.account_id == bindparam("account"), _C.id.in_(bindparam("ids", expanding=True)))
    .values(last_report=bindparam("now"))
)
_RENAME = (
    update(_INSTANCES)
    .where(_C.account_id == bindparam("account"), _C.id == bindparam("instance"))
    .values(hostname=bindparam("name"))
)


@dataclass(frozen=True, slots=True)
class Registration:
    id: str
    account_id: str
    va_id: str
    udi: str
    hostname: str | None
    trusted: bool
    public_key: str | None

    def trust_key(self) -> VerifyKey | None:
        """The key a ``trust``-signed report of this instance must verify under, if any."""
        if not self.trusted or self.public_key is None:
            return None
        return VerifyKey.from_b64(self.public_key)


class Placements:
    """Every registration of some UDIs (in any account), read once for one request."""

    def __init__(self, session: Session, account_id: str, va_id: str, udis: Iterable[str]) -> None:
        self.session = session
        self.account_id = account_id
        self.va_id = va_id
        self._rows: dict[str, list[Registration]] = {}
        for row in session.execute(_REGISTRATIONS, {"udis": sorted(set(udis))}):
            self._rows.setdefault(row.udi, []).append(Registration(*row))

    def in_account(self, udi: str) -> Registration | None:
        """The registration of ``udi`` in this smart account (any virtual account)."""
        return next((r for r in self._rows.get(udi, ()) if r.account_id == self.account_id), None)

    def here(self, udi: str) -> Registration | None:
        """The registration of ``udi`` in this virtual account; anywhere else → mismatch."""
        found = None
        for row in self._rows.get(udi, ()):
            if row.account_id != self.account_id or row.va_id != self.va_id:
                raise AccountMismatchError(
                    f"Smart Account-Virtual Account mismatch: {udi} is registered in another "
                    "virtual account"
                )
            found = row
        return found

    def place(self, udi: str, now: int, hostname: str | None = None) -> str:
        """The id of ``udi``'s instance in this VA, registered now (reporting now) if unknown.

        A concurrent first report of the same UDI makes one of the two inserts fail on the
        unique (account, UDI) index; the caller's transaction is then run again and finds it.
        """
        found = self.here(udi)
        if found is not None:
            return found.id
        instance_id = new_id()
        row = {
            "id": instance_id,
            "account_id": self.account_id,
            "va_id": self.va_id,
            "udi": udi,
            "hostname": hostname,
            "first_seen": now,
            "last_report": now,
            "trusted": False,
            "public_key": None,
            "trust_serial": 0,
            "trust_issued_at": None,
            "allow_export": False,
        }
        self.session.execute(_REGISTER, row)
        registered = Registration(
            instance_id, self.account_id, self.va_id, udi, hostname, False, None
        )
        self._rows[udi] = [registered]
        return instance_id

    def touch(self, instance_ids: Iterable[str], now: int) -> None:
        """Record ``now`` as the last report of instances that were already registered."""
        ids = sorted(set(instance_ids))
        if ids:
            self.session.execute(_TOUCH, {"account": self.account_id, "ids": ids, "now": now})

    def rename(self, instance_id: str, hostname: str) -> None:
        params = {"account": self.account_id, "instance": instance_id, "name": hostname}
        self.session.execute(_RENAME, params)
