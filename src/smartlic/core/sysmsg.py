"""The ``%SMART_LIC`` system message catalog (reference §8), as data.

Operators grep logs and match alerts on these exact lines, and tooling written against real IOS XE
devices (syslog rules, Genie-style parsers, runbooks) must keep working against smartlic. So the
texts, their ``[chars]`` / ``[dec]`` slots and the severities are carried over exactly; only the
explanations and recommended actions are our own words.

A message is rendered in two steps. :func:`format_message` (or :func:`emit`, which also stamps the
time) produces the clock-free part ``%SMART_LIC-3-COMM_FAILED: Communications failure with ...``;
:func:`console_line` adds the ``service timestamps log datetime msec`` prefix that ``show logging``
and the console print. Keeping the two apart keeps the core pure: the caller supplies the time.

Two messages of the catalog need a word:

* ``COMM_INIT_FAILED`` is documented both at severity 3 and at severity 5. It is one catalog entry
  keyed by its mnemonic, with default severity 3 and 5 listed in ``MessageDef.severities``; pass
  ``severity=5`` to :func:`format_message` / :func:`emit` for the other form. Any other override is
  refused, so a typo cannot invent a severity the device never logs.
* ``REPORTING_REQUIRED`` is said elsewhere to exist at severity 2; no source confirms it, so it is
  not listed. A deployment that needs it builds its own ``MessageDef`` (``dataclasses.replace``)
  and calls :meth:`MessageDef.format`, which is what :func:`format_message` does with the catalog.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Literal

from smartlic.core.errors import (
    AccountMismatchError,
    AlreadyInstalledError,
    SignatureMismatchError,
    TimestampMismatchError,
)

__all__ = [
    "CATALOG",
    "FACILITY",
    "PEER_CSLU",
    "PEER_CSSM",
    "PEER_ONPREM",
    "SA_VA_MISMATCH",
    "SIGNATURE_MISMATCH",
    "TIMESTAMP_MISMATCH",
    "TRUST_ALREADY_INSTALLED",
    "TRUST_FAILURE_REASONS",
    "TRUST_REASON_BY_ERROR_CODE",
    "ClockMark",
    "MessageDef",
    "Severity",
    "SlotKind",
    "SystemMessage",
    "UnknownMessageError",
    "console_line",
    "console_stamp",
    "emit",
    "explain",
    "format_message",
    "lookup",
]

FACILITY = "SMART_LIC"

SlotKind = Literal["chars", "dec"]

_SLOT = re.compile(r"\[(chars|dec)\]")
_ANY_BRACKETED = re.compile(r"\[[A-Za-z_]*\]")
_MNEMONIC = re.compile(r"[A-Z][A-Z0-9_]*")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Severity(IntEnum):
    """Syslog severities as IOS numbers them; the number is what appears in the message line."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTIFICATION = 5
    INFORMATIONAL = 6
    DEBUGGING = 7

    @property
    def keyword(self) -> str:
        """The IOS ``logging console <level>`` keyword, which is plural for some levels."""
        return _SEVERITY_KEYWORDS[self]


_SEVERITY_KEYWORDS: Mapping[Severity, str] = MappingProxyType(
    {
        Severity.EMERGENCY: "emergencies",
        Severity.ALERT: "alerts",
        Severity.CRITICAL: "critical",
        Severity.ERROR: "errors",
        Severity.WARNING: "warnings",
        Severity.NOTIFICATION: "notifications",
        Severity.INFORMATIONAL: "informational",
        Severity.DEBUGGING: "debugging",
    }
)


# Reasons printed in the second [chars] of TRUST_CODE_INSTALL_FAILED. The seed excerpt (the
# authoritative source for this message) names exactly these four failure causes; the strings
# are the short error texts we print for them, without a final period (the template has it).
TRUST_ALREADY_INSTALLED = "Trust code is already installed"
SA_VA_MISMATCH = "Smart Account-Virtual Account mismatch"
SIGNATURE_MISMATCH = "Signature mismatch"
TIMESTAMP_MISMATCH = "Timestamp mismatch"

TRUST_FAILURE_REASONS: tuple[str, ...] = (
    TRUST_ALREADY_INSTALLED,
    SA_VA_MISMATCH,
    SIGNATURE_MISMATCH,
    TIMESTAMP_MISMATCH,
)

TRUST_REASON_BY_ERROR_CODE: Mapping[str, str] = MappingProxyType(
    {
        AlreadyInstalledError.code: TRUST_ALREADY_INSTALLED,
        AccountMismatchError.code: SA_VA_MISMATCH,
        SignatureMismatchError.code: SIGNATURE_MISMATCH,
        TimestampMismatchError.code: TIMESTAMP_MISMATCH,
    }
)
"""Lets the trust installer turn a refused install (``SmartLicError.code``) into the device text
without each caller keeping its own copy of the strings."""

# Peer names: the first [chars] of COMM_FAILED / COMM_RESTORED / COMM_INIT_FAILED. The CSSM and
# CSLU spellings are copied from device logs; On-Prem follows the product's own name.
PEER_CSSM = "Cisco Smart Software Manager (CSSM)"
PEER_CSLU = "Cisco Smart License Utility (CSLU)"
PEER_ONPREM = "Cisco Smart Software Manager On-Prem"


def _parse_slots(text: str) -> tuple[SlotKind, ...]:
    kinds: list[SlotKind] = []
    for match in _SLOT.finditer(text):
        kinds.append("dec" if match.group(1) == "dec" else "chars")
    return tuple(kinds)


@dataclass(frozen=True, kw_only=True)
class MessageDef:
    """One catalog entry. Validated on creation so a typo in the catalog fails at import time."""

    mnemonic: str
    severity: Severity
    text: str
    explanation: str
    action: str
    facility: str = FACILITY
    severities: tuple[Severity, ...] = ()
    """Every severity this mnemonic is logged at; empty means only ``severity``."""
    slots: tuple[SlotKind, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not _MNEMONIC.fullmatch(self.mnemonic):
            raise ValueError(f"bad mnemonic {self.mnemonic!r}: expected upper-case A-Z, 0-9, _")
        stray = [m for m in _ANY_BRACKETED.findall(self.text) if not _SLOT.fullmatch(m)]
        if stray:
            raise ValueError(
                f"{self.mnemonic}: unknown slot(s) {', '.join(stray)}; only [chars] and [dec]"
            )
        object.__setattr__(self, "severity", Severity(self.severity))
        allowed = tuple(Severity(s) for s in self.severities) or (self.severity,)
        if self.severity not in allowed:
            allowed = (self.severity, *allowed)
        object.__setattr__(self, "severities", allowed)
        object.__setattr__(self, "slots", _parse_slots(self.text))

    @property
    def template(self) -> str:
        """The line as the Cisco message guides print it, slots unfilled."""
        return f"%{self.facility}-{int(self.severity)}-{self.mnemonic}: {self.text}"

    def format(self, *args: str | int, severity: int | None = None) -> str:
        """Fill the slots in order; see :func:`format_message` for the rules."""
        sev = self._resolve_severity(severity)
        body = _fill(self, args)
        return f"%{self.facility}-{int(sev)}-{self.mnemonic}: {body}"

    def _resolve_severity(self, severity: int | None) -> Severity:
        if severity is None:
            return self.severity
        if isinstance(severity, bool) or not isinstance(severity, int):
            raise ValueError(f"{self.mnemonic}: severity must be an int 0..7, got {severity!r}")
        if severity not in self.severities:
            listed = ", ".join(str(int(s)) for s in self.severities)
            raise ValueError(f"{self.mnemonic} is logged at severity {listed} only, not {severity}")
        return Severity(severity)


def _one_line(value: str) -> str:
    # One message is one log line: a peer-supplied reason with a newline could otherwise forge a
    # second, fake %SMART_LIC line in the log. Control and line/paragraph separators become spaces.
    if value.isprintable():
        return value
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in value)


def _fill(defn: MessageDef, args: tuple[str | int, ...]) -> str:
    if len(args) != len(defn.slots):
        raise ValueError(
            f"{defn.mnemonic} takes {len(defn.slots)} argument(s) "
            f"({', '.join(f'[{s}]' for s in defn.slots) or 'none'}), got {len(args)}"
        )
    pieces: list[str] = []
    position = 0
    for index, (match, arg) in enumerate(zip(_SLOT.finditer(defn.text), args, strict=True)):
        kind = match.group(1)
        pieces.append(defn.text[position : match.start()])
        position = match.end()
        if kind == "dec":
            if isinstance(arg, bool) or not isinstance(arg, int):
                raise ValueError(
                    f"{defn.mnemonic}: argument {index + 1} fills [dec] and must be an int, "
                    f"got {type(arg).__name__} {arg!r}"
                )
            pieces.append(str(int(arg)))
            continue
        if not isinstance(arg, str):
            raise ValueError(
                f"{defn.mnemonic}: argument {index + 1} fills [chars] and must be a str, "
                f"got {type(arg).__name__} {arg!r}"
            )
        value = _one_line(str(arg))
        if defn.text.startswith(".", position) and value.endswith("."):
            # The template ends the sentence itself; "...mismatch.." would look like a bug.
            value = value[:-1]
        pieces.append(value)
    pieces.append(defn.text[position:])
    return "".join(pieces)


class UnknownMessageError(KeyError):
    """A mnemonic not in the catalog. A ``KeyError`` so mapping-style callers catch it as usual."""

    def __init__(self, mnemonic: str) -> None:
        self.mnemonic = mnemonic
        self.suggestions = tuple(difflib.get_close_matches(mnemonic.upper(), CATALOG, n=3))
        hint = (
            f"; did you mean {', '.join(self.suggestions)}?"
            if self.suggestions
            else f"; known: {', '.join(CATALOG)}"
        )
        super().__init__(f"unknown %{FACILITY} mnemonic {mnemonic!r}{hint}")

    def __str__(self) -> str:
        # KeyError.__str__ repr()s its argument; the message is meant to be read as is.
        return str(self.args[0])


def _entry(
    mnemonic: str,
    severity: Severity,
    text: str,
    explanation: str,
    action: str,
    *,
    severities: tuple[Severity, ...] = (),
) -> tuple[str, MessageDef]:
    return mnemonic, MessageDef(
        mnemonic=mnemonic,
        severity=severity,
        text=text,
        explanation=explanation,
        action=action,
        severities=severities,
    )


_NO_ACTION = "No action is required."

CATALOG: Mapping[str, MessageDef] = MappingProxyType(
    dict(
        [
            _entry(
                "PLATFORM_ERROR",
                Severity.CRITICAL,
                "Smart Licensing has encountered an internal software error. Contact TAC: [chars]",
                "The licensing agent or the platform layer under it hit an internal error, for "
                "instance the platform handed over a UDI list with empty or invalid values. "
                "[chars] describes the error.",
                "Collect the output of show license tech support and the log, and open a TAC case.",
            ),
            _entry(
                "COMM_FAILED",
                Severity.ERROR,
                "Communications failure with the [chars] : [chars]",
                "A message exchange with the licensing peer failed. The first [chars] names the "
                "peer (CSSM, CSLU or SSM On-Prem); the second is the transport error, such as a "
                "host name that does not resolve or an HTTP message that could not be sent.",
                "Check DNS, reachability of the peer, the configured URL (license smart url), "
                "the transport type, any proxy and the certificates. Usage reports are kept "
                "and sent once communication is restored.",
            ),
            _entry(
                "COMM_RESTORED",
                Severity.NOTIFICATION,
                "Communications with the [chars] restored",
                "A message exchange with the licensing peer named by [chars] succeeded after "
                "earlier failures.",
                _NO_ACTION,
            ),
            _entry(
                "COMM_INIT_FAILED",
                Severity.ERROR,
                "Failed to initialize communications with the [chars] : [chars]",
                "The transport to the licensing peer named by the first [chars] could not be "
                "set up, for instance because of a malformed URL or an HTTP client error; the "
                "second [chars] gives the cause. Logged at severity 3, and at severity 5 by "
                "some releases.",
                "Correct the transport and URL configuration (license smart transport, license "
                "smart url), then run license smart sync.",
                severities=(Severity.ERROR, Severity.NOTIFICATION),
            ),
            _entry(
                "POLICY_INSTALL_FAILED",
                Severity.ERROR,
                "The installation of a new licensing policy has failed: [chars].",
                "A policy received in an ACK or imported from a file was refused. [chars] is "
                "the reason, typically a signature mismatch (inaccurate clock or altered file) "
                "or a timestamp mismatch with CSSM.",
                "Synchronize the clock (configure NTP), then obtain the policy again: license "
                "smart sync, a CSLU collection, or a policy file downloaded from CSSM and "
                "installed with license smart import.",
            ),
            _entry(
                "POLICY_INSTALL_SUCCESS",
                Severity.INFORMATIONAL,
                "A new licensing policy was successfully installed",
                "A policy from an ACK or an imported file is now the active policy.",
                _NO_ACTION,
            ),
            _entry(
                "TRUST_CODE_INSTALL_FAILED",
                Severity.ERROR,
                "The install of a new licensing trust code has failed on [chars]: [chars].",
                "A trust code could not be installed. The first [chars] is the UDI the install "
                "was attempted on; the second states why. The causes are: a trust code is "
                "already installed (trust codes are node-locked to the UDI); a Smart "
                "Account-Virtual Account mismatch (the account the ID token belongs to does "
                "not hold this product instance); a signature mismatch (the system clock is "
                "wrong); a timestamp mismatch (the product instance clock is not synchronized "
                "with CSSM).",
                "Already installed: repeat the command with the force keyword. Account "
                "mismatch: use a token from the virtual account that holds this product "
                "instance. Signature or timestamp mismatch: configure NTP so the clock is "
                "within one hour of CSSM, then retry.",
            ),
            _entry(
                "TRUST_INSTALL_SUCCESS",
                Severity.INFORMATIONAL,
                "A new licensing trust code was successfully installed on [chars].",
                "A trust code is now installed for the UDI in [chars]; reports from it are "
                "signed with that trust.",
                _NO_ACTION,
            ),
            _entry(
                "AUTHORIZATION_INSTALL_FAILED",
                Severity.ERROR,
                "The install of a new licensing authorization code has failed on [chars]: [chars].",
                "A Smart Licensing Authorization Code (SLAC) could not be installed on the UDI "
                "in the first [chars]. The second [chars] gives the cause: a code generated for "
                "another UDI, an invalid signature or format, a code already installed or a "
                "count above what was purchased, or a clock problem.",
                "Generate the authorization code again for this UDI (show license udi), then "
                "run license smart sync or import the file with license smart import.",
            ),
            _entry(
                "AUTHORIZATION_INSTALL_SUCCESS",
                Severity.INFORMATIONAL,
                "A new licensing authorization code was successfully installed on: [chars].",
                "A Smart Licensing Authorization Code is now installed on the UDI in [chars]; "
                "the enforced or export-controlled licenses it covers may be used.",
                _NO_ACTION,
            ),
            _entry(
                "AUTHORIZATION_REMOVED",
                Severity.INFORMATIONAL,
                "A licensing authorization code has been removed from [chars]",
                "The authorization code on the UDI in [chars] was returned or removed; the "
                "licenses it authorized are no longer authorized there.",
                _NO_ACTION,
            ),
            _entry(
                "REPORTING_REQUIRED",
                Severity.INFORMATIONAL,
                "A Usage report acknowledgement will be required in [dec] days.",
                "An acknowledgement of a usage report must be installed before the ACK "
                "deadline of the policy; [dec] is the number of days left.",
                "Report usage now: license smart sync in a connected topology, a CSLU "
                "collection, or license smart save usage followed by importing the ACK.",
            ),
            _entry(
                "REPORTING_NOT_SUPPORTED",
                Severity.WARNING,
                "The CSSM OnPrem that this product instance is connected to is down rev and "
                "does not support the enhanced policy and usage reporting mode.",
                "The SSM On-Prem server this product instance talks to predates Smart "
                "Licensing Using Policy and cannot take its usage reports.",
                "Upgrade SSM On-Prem to a release that supports Smart Licensing Using Policy.",
            ),
            _entry(
                "HOT_STANDBY_OUT_OF_SYNC",
                Severity.ERROR,
                "Smart Licensing agent on hot standby is out of sync with active Smart "
                "Licensing agent",
                "The licensing state check-pointed to the hot standby differs from the active's, "
                "so a switchover could lose trust, policy or usage data.",
                "Check the redundancy state (show redundancy) and let the standby resynchronize; "
                "if the message repeats, collect show license tech support and contact TAC.",
            ),
            _entry(
                "CONFIG_NOT_SAVED",
                Severity.WARNING,
                "Smart Licensing configuration has not been saved",
                "Licensing configuration was changed but the startup configuration still has "
                "the old one, so a reload would undo the change.",
                "Save the configuration (write memory or copy running-config startup-config).",
            ),
            _entry(
                "AGENT_READY",
                Severity.INFORMATIONAL,
                "Smart Agent for Licensing is initialized",
                "The licensing agent finished starting; logged at boot.",
                _NO_ACTION,
            ),
            _entry(
                "AGENT_ENABLED",
                Severity.INFORMATIONAL,
                "Smart Agent for Licensing is enabled",
                "The licensing agent is running and accepts licensing operations; logged at boot.",
                _NO_ACTION,
            ),
            _entry(
                "EXPORT_CONTROLLED",
                Severity.INFORMATIONAL,
                "Usage of export controlled features is not allowed",
                "No authorization for export-controlled functionality is installed, so those "
                "features stay unavailable.",
                "If export-controlled features are needed, install an authorization code "
                "that allows them; otherwise no action is required.",
            ),
            _entry(
                "SYSTEM_CLOCK_CHANGED",
                Severity.NOTIFICATION,
                "Smart Agent for Licensing System clock has been changed",
                "The system clock was set or jumped; licensing timers and deadlines are "
                "recomputed against the new time.",
                "Use NTP so the clock stays accurate; trust, policy and authorization checks "
                "fail when it is more than an hour off.",
            ),
        ]
    )
)
"""Every SLP message of reference §8, in its order. The classic (pre-SLP) messages are left out:
smartlic never logs them."""


def lookup(mnemonic: str) -> MessageDef:
    """The catalog entry, with a near-miss suggestion instead of a bare ``KeyError``."""
    try:
        return CATALOG[mnemonic]
    except KeyError:
        raise UnknownMessageError(mnemonic) from None


def format_message(mnemonic: str, *args: str | int, severity: int | None = None) -> str:
    """The message line without timestamp, exactly as the device prints it.

    ``[chars]`` takes a ``str`` and ``[dec]`` an ``int`` (``bool`` is refused: ``True`` printed
    as ``1`` is a bug, never a count), in order; a wrong count or type is a ``ValueError``. A
    ``[chars]`` that the template follows with ``.`` loses one trailing ``.`` of its own. Control
    characters become spaces so one message stays one line. ``severity`` selects another severity
    the mnemonic is logged at (only ``COMM_INIT_FAILED`` has one).
    """
    return lookup(mnemonic).format(*args, severity=severity)


@dataclass(frozen=True)
class SystemMessage:
    """A message as emitted: the rendered text plus what produced it, so a log store can filter
    by mnemonic or severity and re-render it for another timestamp style."""

    mnemonic: str
    severity: Severity
    text: str
    at_ms: int
    args: tuple[str | int, ...] = ()

    @property
    def definition(self) -> MessageDef:
        return lookup(self.mnemonic)


def emit(mnemonic: str, *args: str | int, at_ms: int, severity: int | None = None) -> SystemMessage:
    """Render a message and stamp it with ``at_ms`` (epoch milliseconds, given by the caller)."""
    if isinstance(at_ms, bool) or not isinstance(at_ms, int):
        raise ValueError(f"at_ms must be int epoch milliseconds, got {at_ms!r}")
    defn = lookup(mnemonic)
    text = defn.format(*args, severity=severity)
    sev = defn.severity if severity is None else Severity(severity)
    return SystemMessage(mnemonic=mnemonic, severity=sev, text=text, at_ms=at_ms, args=args)


class ClockMark(StrEnum):
    """The character IOS puts before a log timestamp to say how far to trust the clock."""

    NOT_AUTHORITATIVE = "*"
    """Never synchronized (no NTP, no calendar); the usual look of a lab or boot log."""
    SYNCHRONIZED = ""
    """Synchronized with an authoritative source such as NTP."""
    SYNC_LOST = "."
    """Was authoritative, but synchronization has been lost."""


def console_stamp(at_ms: int) -> str:
    """``Nov  3 23:22:42.123``: ``service timestamps log datetime msec``, UTC.

    IOS pads the day of the month with a space (``%e``), not a zero, so columns line up in
    ``show logging``. Computed by adding a ``timedelta`` to the epoch so that negative (pre-1970)
    values get the right milliseconds too.
    """
    moment = _EPOCH + timedelta(milliseconds=at_ms)
    return f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"


def console_line(
    msg: SystemMessage,
    hostname: str | None = None,
    *,
    clock: ClockMark = ClockMark.NOT_AUTHORITATIVE,
) -> str:
    """The message as the console and ``show logging`` show it.

    Layout: ``*Nov 27 23:22:42.123: %SMART_LIC-6-AGENT_READY: Smart Agent for Licensing is
    initialized`` (IOS ``service timestamps log datetime msec``, time in UTC, no year, no time
    zone). ``clock`` picks the leading mark; the default ``*`` is what most captured device
    logs show. With ``hostname`` the line gets the ``hostname: `` prefix that ``logging
    origin-id hostname`` puts on messages sent to a syslog server, so logs of many product
    instances can be merged.
    """
    line = f"{clock.value}{console_stamp(msg.at_ms)}: {msg.text}"
    if hostname is None:
        return line
    return f"{_one_line(hostname)}: {line}"


def explain(mnemonic: str) -> str:
    """The entry laid out like Cisco's message guides, for ``--help`` output and the docs."""
    defn = lookup(mnemonic)
    lines = [
        defn.template,
        f"Explanation: {defn.explanation}",
        f"Recommended Action: {defn.action}",
    ]
    return "\n".join(lines)
