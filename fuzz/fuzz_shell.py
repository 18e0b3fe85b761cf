"""The device shell's command parser: every mode's command tree, ``?`` help, completion and
output filters (``| include``…). A line IOS refuses is a ``ParseError`` (its ``%`` message)."""

from __future__ import annotations

import atheris
from harness import fuzz

with atheris.instrument_imports(include=["smartlic"]):
    from smartlic.core.errors import SmartLicError
    from smartlic.instance.shell.commands import build_trees
    from smartlic.instance.shell.tree import ParseError, apply_filters, split_filter

TREES = build_trees()
MODES = sorted(TREES)
SAMPLE = "Status: ENABLED\nTrust Code Installed: <none>\nlicense smart transport cslu\n"


def target(data: bytes) -> None:
    if not data:
        return
    tree = TREES[MODES[data[0] % len(MODES)]]
    line = data[1:].decode("utf-8", "replace")
    for step in (tree.help, tree.complete, tree.parse):
        try:
            step(line)
        except ParseError as exc:
            exc.render(12)
    try:
        head, filters = split_filter(line)
        apply_filters(SAMPLE, filters)
        tree.parse(head)
    except ParseError as exc:
        exc.render(12)


if __name__ == "__main__":
    lines = [
        "show license summary",
        "sh lic usage | include Status",
        "license smart sync all",
        "license smart save usage unreported file flash:u.xml",
        "show license rum id 5 detail | begin Report",
        "license smart transport cslu",
        "license smart url cslu http://10.0.0.1:8182/cslu/v1/pi",
        "license smart usage interval 30",
        "show license all | exclude Trust | count",
    ]
    fuzz(
        "shell",
        target,
        [bytes([i]) + line.encode() for i in range(len(MODES)) for line in lines],
        expected=(SmartLicError, ParseError),
    )
