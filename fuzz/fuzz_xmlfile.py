"""``<smartLicense>`` XML wrappers (policy, ACK, trust code, key set, RUM files)."""

from __future__ import annotations

import atheris
from harness import fuzz, golden_files

with atheris.instrument_imports(include=["smartlic"]):
    from smartlic.core import xmlfile


def target(data: bytes) -> None:
    xmlfile.read(data)


if __name__ == "__main__":
    fuzz("xmlfile", target, [v for k, v in golden_files().items() if k.endswith(".xml")])
