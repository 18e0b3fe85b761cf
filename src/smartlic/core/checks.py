"""The install rules every role applies after a signature verifies.

A valid signature only says who made an artifact; these say whether it belongs *here, now*: made
for this UDI, not older than what is installed, from a clock close enough to ours. They are shared
so the product instance, the utility and the authority refuse the same things with the same
reasons.
"""

from __future__ import annotations

from smartlic.core.errors import RollbackError, TimestampMismatchError, WrongUdiError
from smartlic.core.timefmt import HOUR, device_time
from smartlic.core.udi import HaSet, Udi

MAX_CLOCK_SKEW = HOUR
"""SLP: the product instance and CSSM must agree on the time to within one hour."""


def check_udi(artifact_udi: Udi, mine: Udi | HaSet, what: str) -> None:
    """Refuse an artifact made for a product instance that is not this one (or not in its set)."""
    ours = mine.contains(artifact_udi) if isinstance(mine, HaSet) else artifact_udi == mine
    if not ours:
        here = mine.active if isinstance(mine, HaSet) else mine
        raise WrongUdiError(f"{what} is for {artifact_udi}, not for this product instance ({here})")


def check_clock_skew(theirs: int, ours: int, *, limit: int = MAX_CLOCK_SKEW) -> None:
    """Refuse a message whose sender's clock is more than ``limit`` seconds from ours."""
    if abs(theirs - ours) > limit:
        raise TimestampMismatchError(
            f"the product instance time {device_time(theirs)} is more than {limit // 60} minutes "
            f"from the authority time {device_time(ours)}"
        )


def check_not_older(installed_at: int | None, offered_at: int, what: str) -> None:
    """Refuse an artifact issued before the one installed: a replayed old policy, for example."""
    if installed_at is not None and offered_at < installed_at:
        raise RollbackError(
            f"{what} issued {device_time(offered_at)} is older than the installed one "
            f"({device_time(installed_at)})"
        )
