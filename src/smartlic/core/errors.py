"""Every error smartlic raises, in one hierarchy.

Two families matter to a caller, as in python-tuf: the other side sent something we must not
accept (``FormatError``, ``VerificationError``, ``InstallError``), or the carrier failed
(``CommunicationError``). The first family carries a ``reason``: the short text that goes into the
second ``[chars]`` of a ``%SMART_LIC-3-..._INSTALL_FAILED`` message. The second maps to
``%SMART_LIC-3-COMM_FAILED``. Every error also has a stable ``code`` (used in protocol error
responses and problem+json bodies) and ``diagnostics()``: what went wrong and what to do.

::

    SmartLicError
    ├── FormatError                  bytes that are not a well-formed artifact or message
    │   └── OversizedError           larger than the limit for that input
    ├── VerificationError            well-formed, but must not be accepted
    │   ├── SignatureMismatchError   bad signature, unknown key, key not valid at this clock
    │   ├── ArtifactTypeError        an artifact of another type (an ACK offered as a policy)
    │   ├── TimestampMismatchError   clocks more than the allowed skew apart
    │   ├── WrongUdiError            made for another product instance
    │   ├── AccountMismatchError     smart account / virtual account mismatch
    │   ├── RollbackError            older than what is already trusted
    │   ├── ReplayError              already seen (nonce, report id with other content)
    │   └── TokenError               ID token unknown, expired, revoked or used up
    ├── InstallError                 verified, but the current state refuses it
    │   ├── AlreadyInstalledError    a trust code is already installed
    │   └── CountExceededError       more licenses than authorized or purchased
    ├── NotFoundError                no such object (for this account)
    ├── ConfigurationError           a setting that cannot work (bad URL, bad transport)
    └── CommunicationError           the transport failed; carries the peer
"""

from __future__ import annotations


class SmartLicError(Exception):
    """Base of every smartlic error."""

    code: str = "ERROR"
    default_hint: str = "See the documentation in docs/ for this operation."

    def __init__(self, reason: str, *, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint if hint is not None else self.default_hint

    def diagnostics(self) -> str:
        """A person-readable account: what failed, and what to do about it."""
        return f"{self.reason}\n\nWhat to do: {self.hint}"


class FormatError(SmartLicError):
    code = "MALFORMED"
    default_hint = (
        "The input is not a valid smartlic/SLP document. Check that the file was copied whole "
        "(not truncated or edited) and that it is the right kind of file for this command."
    )


class OversizedError(FormatError):
    code = "OVERSIZED"
    default_hint = "Split the input into smaller parts, or raise the limit if it is legitimate."


class VerificationError(SmartLicError):
    code = "VERIFICATION_FAILED"
    default_hint = "Obtain a fresh copy of the artifact from its issuer and try again."


class SignatureMismatchError(VerificationError):
    code = "SIGNATURE_MISMATCH"
    default_hint = (
        "The signature does not verify with the keys valid at this clock. Check the system clock "
        "(configure NTP), then obtain the artifact again; a file that was edited never verifies."
    )


class ArtifactTypeError(VerificationError):
    code = "WRONG_ARTIFACT_TYPE"
    default_hint = "Use the file that matches this operation (policy, ACK, trust code, ...)."


class TimestampMismatchError(VerificationError):
    code = "TIMESTAMP_MISMATCH"
    default_hint = (
        "The product instance clock is not synchronized with the authority (more than one hour "
        "apart). Configure NTP or set the clock, then retry."
    )


class WrongUdiError(VerificationError):
    code = "WRONG_UDI"
    default_hint = "Generate the artifact again for this product instance's UDI (show license udi)."


class AccountMismatchError(VerificationError):
    code = "ACCOUNT_MISMATCH"
    default_hint = (
        "Use an ID token generated in the smart account / virtual account that holds this product "
        "instance, or move the product instance to that account first."
    )


class RollbackError(VerificationError):
    code = "ROLLBACK"
    default_hint = "A newer version is already installed; obtain the current one from the issuer."


class ReplayError(VerificationError):
    code = "REPLAY"
    default_hint = "This exact message was already processed; send a fresh one."


class TokenError(VerificationError):
    code = "INVALID_TOKEN"
    default_hint = "Generate a new ID token in the virtual account and use it before it expires."


class InstallError(SmartLicError):
    code = "INSTALL_REFUSED"


class AlreadyInstalledError(InstallError):
    code = "ALREADY_INSTALLED"
    default_hint = "Add the 'force' keyword to replace the installed trust code."


class CountExceededError(InstallError):
    code = "COUNT_EXCEEDED"
    default_hint = "Purchase more licenses, or return an authorization code to free the count."


class NotFoundError(SmartLicError):
    code = "NOT_FOUND"
    default_hint = "Check the name or id; objects of other accounts are not visible."


class ConfigurationError(SmartLicError):
    code = "CONFIGURATION"
    default_hint = "Correct the setting and retry."


class CommunicationError(SmartLicError):
    """The carrier failed: nothing was verified or refused, the exchange did not happen."""

    code = "COMM_FAILED"
    default_hint = (
        "Check reachability, DNS, the URL (license smart url ...), the transport and any proxy. "
        "Reports are kept and sent on the next attempt."
    )

    def __init__(self, peer: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(reason, hint=hint)
        self.peer = peer


ERRORS_BY_CODE: dict[str, type[SmartLicError]] = {
    cls.code: cls
    for cls in (
        SmartLicError,
        FormatError,
        OversizedError,
        VerificationError,
        SignatureMismatchError,
        ArtifactTypeError,
        TimestampMismatchError,
        WrongUdiError,
        AccountMismatchError,
        RollbackError,
        ReplayError,
        TokenError,
        InstallError,
        AlreadyInstalledError,
        CountExceededError,
        NotFoundError,
        ConfigurationError,
    )
}
"""Lets a receiver rebuild the error class from a protocol error response's ``code``."""


def error_from_code(code: str, reason: str) -> SmartLicError:
    """Rebuild an error sent by a peer; unknown codes become a plain ``SmartLicError``."""
    return ERRORS_BY_CODE.get(code, SmartLicError)(reason)
