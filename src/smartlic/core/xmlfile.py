"""The ``<smartLicense>`` XML files of SLP: signed artifacts as JSON in CDATA sections.

A device's ``license smart save usage`` file, an ACK, a policy file and an authorization code file
all share this wrapper, one element per artifact, named as Cisco names them (``RUMReport``,
``smartLicenseRumAck``, ``smartLicensePolicy``...). Reading goes through defusedxml with DTDs and
entities refused, so an entity bomb or external entity fails before any expansion; the element
name must agree with the artifact type in the envelope it holds.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException

from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.errors import ArtifactTypeError, FormatError, OversizedError

MAX_XML_BYTES = 64 * 1024 * 1024
MAX_ELEMENTS = 200_000
ROOT = "smartLicense"

ELEMENT_FOR: dict[ArtifactType, str] = {
    ArtifactType.RUM: "RUMReport",
    ArtifactType.ACK: "smartLicenseRumAck",
    ArtifactType.POLICY: "smartLicensePolicy",
    ArtifactType.SLAC: "smartLicenseAuthorization",
    ArtifactType.TRUST_CODE: "smartLicenseTrustCode",
    ArtifactType.TRUST_REQUEST: "smartLicenseTrustRequest",
    ArtifactType.RETURN_CODE: "smartLicenseReturnCode",
    ArtifactType.KEYSET: "smartLicenseKeySet",
    ArtifactType.USAGE_FILE: "smartLicenseUsageManifest",
    ArtifactType.ACK_FILE: "smartLicenseAckManifest",
}
TYPE_FOR: dict[str, ArtifactType] = {name: kind for kind, name in ELEMENT_FOR.items()}


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside one CDATA section: split it across two.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def write(envelopes: list[Envelope] | tuple[Envelope, ...]) -> bytes:
    """One ``<smartLicense>`` document holding every envelope, in order."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{ROOT}>"]
    for envelope in envelopes:
        name = ELEMENT_FOR[envelope.type]
        parts.append(f"<{name}>{_cdata(envelope.to_bytes().decode())}</{name}>")
    parts.append(f"</{ROOT}>")
    return ("\n".join(parts) + "\n").encode()


def read(data: bytes, *, limit: int = MAX_XML_BYTES, allow_empty: bool = False) -> list[Envelope]:
    """Every envelope in a ``<smartLicense>`` file, or in one bare artifact element (devices
    write a bare ``<RUMReport>``). With ``allow_empty`` (a bundle member its manifest declares
    with ``items: 0``) the file must hold no artifact; otherwise it must hold at least one.

    Only parses: signatures are checked by whoever installs the artifacts.
    """
    if len(data) > limit:
        raise OversizedError(f"file is {len(data)} bytes, more than the limit of {limit}")
    if not data.strip():
        raise FormatError("file is empty")
    try:
        root: Element = DefusedET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise FormatError(
            f"file uses a forbidden XML feature ({type(exc).__name__})",
            hint="SLP files never use DTDs or entities; this file was crafted or corrupted.",
        ) from None
    except Exception as exc:  # ParseError and expat errors: report position
        raise FormatError(f"file is not well-formed XML: {exc}") from None
    if root.tag == ROOT:
        elements = list(root)
        if root.text and root.text.strip():
            raise FormatError("<smartLicense> holds stray text outside its elements")
    elif root.tag in TYPE_FOR:
        elements = [root]
    else:
        raise FormatError(f"not an SLP file: root element <{root.tag}>")
    if allow_empty and elements:
        raise FormatError(f"the file must hold no artifact, it holds {len(elements)}")
    if not elements and not allow_empty:
        raise FormatError("<smartLicense> holds no artifact")
    if len(elements) > MAX_ELEMENTS:
        raise OversizedError(f"file holds more than {MAX_ELEMENTS} artifacts")
    envelopes = []
    for index, element in enumerate(elements):
        expected = TYPE_FOR.get(element.tag)
        if expected is None:
            raise FormatError(f"unknown element <{element.tag}> (artifact {index + 1})")
        if len(element) or (element.tail and element.tail.strip()):
            raise FormatError(f"<{element.tag}> must hold only its JSON (artifact {index + 1})")
        envelope = Envelope.parse((element.text or "").strip(), limit=limit)
        if envelope.type is not expected:
            raise ArtifactTypeError(
                f"<{element.tag}> holds an artifact of type {envelope.type.value} "
                f"(artifact {index + 1}); the file was altered"
            )
        envelopes.append(envelope)
    return envelopes
