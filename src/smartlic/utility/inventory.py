"""Read-only views of the utility's inventory for the console: push instances and last ACKs.

"Last ACK" is when the newest *verified* ACK that acknowledged one of the instance's reports
arrived: ACKs are stored only after their signature checked out, and a report points at the ACK
that covered it, so a hello answered with a policy alone does not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from smartlic.utility.store import Store

MAX_SHOWN = 500
"""The console lists the most recently heard push instances; the count says how many exist."""

_PUSH_INSTANCES = (
    "SELECT i.udi, i.hostname, i.last_seen, i.error, "
    "(SELECT MAX(a.received_at) FROM reports r JOIN acks a ON a.ack_id = r.ack_id "
    "WHERE r.udi = i.udi) AS last_ack, "
    "(SELECT COUNT(*) FROM reports r WHERE r.udi = i.udi AND r.ack_id IS NULL) AS waiting "
    "FROM instances i WHERE i.mode = 'push' ORDER BY i.last_seen DESC, i.udi LIMIT ?"
)

_LAST_ACKS = (
    "SELECT r.udi, MAX(a.received_at) AS at FROM reports r "
    "JOIN acks a ON a.ack_id = r.ack_id WHERE r.udi IN"
)


@dataclass(frozen=True)
class PushInstance:
    udi: str
    hostname: str | None
    status: str
    last_contact: int
    last_ack: int | None
    waiting: int
    error: str | None


def _status(error: str | None, waiting: int, last_ack: int | None) -> str:
    if error:
        return "error"
    if waiting:
        return f"{waiting} report{'' if waiting == 1 else 's'} waiting for an ACK"
    return "acknowledged" if last_ack is not None else "no report yet"


def push_instances(store: Store, limit: int = MAX_SHOWN) -> tuple[list[PushInstance], int]:
    """The instances that reported to the push endpoint, latest contact first, and how many."""
    total = int(store.scalar("SELECT COUNT(*) FROM instances WHERE mode = 'push'") or 0)
    rows = store.rows(_PUSH_INSTANCES, (limit,))
    out = []
    for r in rows:
        last_ack = None if r["last_ack"] is None else int(r["last_ack"])
        waiting = int(r["waiting"])
        out.append(
            PushInstance(
                udi=r["udi"],
                hostname=r["hostname"],
                status=_status(r["error"], waiting, last_ack),
                last_contact=int(r["last_seen"]),
                last_ack=last_ack,
                waiting=waiting,
                error=r["error"],
            )
        )
    return out, total


def last_acks(store: Store, udis: Iterable[str | None]) -> dict[str, int]:
    """UDI → when the last verified ACK of its reports arrived (UDIs without one are absent)."""
    wanted = sorted({u for u in udis if u})
    out: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        sql = f"{_LAST_ACKS} ({marks}) GROUP BY r.udi"  # only "?" placeholders are spliced in
        rows = store.rows(sql, tuple(chunk))
        out.update({r["udi"]: int(r["at"]) for r in rows})
    return out
