"""The four license classes a policy sets reporting rules for (reference §2.1).

A license's class follows from its enforcement type and duration; it lives in its own module
because both the catalog (which knows licenses) and the policy (which knows rules) need it, and
neither should import the other.
"""

from __future__ import annotations

from enum import StrEnum


class PolicyClass(StrEnum):
    UNENFORCED_PERPETUAL = "unenforced_perpetual"
    UNENFORCED_SUBSCRIPTION = "unenforced_subscription"
    ENFORCED = "enforced"
    EXPORT = "export"

    @property
    def heading(self) -> str:
        """The group heading printed by ``show license status``."""
        return _HEADINGS[self]


_HEADINGS = {
    PolicyClass.UNENFORCED_PERPETUAL: "Unenforced/Non-Export Perpetual Attributes",
    PolicyClass.UNENFORCED_SUBSCRIPTION: "Unenforced/Non-Export Subscription Attributes",
    PolicyClass.ENFORCED: "Enforced (Perpetual/Subscription) License Attributes",
    PolicyClass.EXPORT: "Export (Perpetual/Subscription) License Attributes",
}
