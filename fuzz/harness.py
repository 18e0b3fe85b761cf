"""What every atheris target shares: the line between a refusal and a crash, and the seeds.

A parser fed hostile bytes may refuse them with an error of the project's hierarchy
(``smartlic.core.errors.SmartLicError``: the caller shows its ``diagnostics()``, the endpoint
answers 4xx). Anything else escaping — ``KeyError``, ``UnicodeDecodeError``, ``RecursionError``,
``AssertionError`` — would reach a user as a traceback or a 500, so libFuzzer is told it crashed
and keeps the input (``build/fuzz/<target>/crash-*``) for a regression test
(tests/unit/test_fuzz_regressions.py).

Run one target: ``python fuzz/fuzz_xmlfile.py -max_total_time=60``; replay a crash:
``python fuzz/fuzz_xmlfile.py build/fuzz/xmlfile/crash-…``. ``fuzz/run_all.py`` (``make fuzz``)
runs them all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

with atheris.instrument_imports(include=["smartlic"]):
    from smartlic.core.errors import SmartLicError

Target = Callable[[bytes], object]
MAX_LEN = 16384
"""Inputs up to 16 KiB: room for what needs length to fail (a number of more than 4300 digits,
a deep nesting), still small enough for thousands of executions a second."""


def workdir(name: str) -> Path:
    folder = ROOT / "build" / "fuzz" / name
    (folder / "corpus").mkdir(parents=True, exist_ok=True)
    return folder


def golden_files() -> dict[str, bytes]:
    """The signed golden vectors: one valid input of every artifact and file type."""
    from tests import vectors

    return vectors.build().files


def fuzz(
    name: str,
    target: Target,
    seeds: Iterable[bytes],
    expected: tuple[type[BaseException], ...] = (SmartLicError,),
) -> None:
    """Run ``target`` under libFuzzer; ``expected`` exceptions are refusals, the rest crashes."""
    folder = workdir(name)
    corpus = folder / "corpus"
    for i, seed in enumerate(seeds):
        path = corpus / f"seed-{i}"
        if not path.exists():
            path.write_bytes(seed)

    def one_input(data: bytes) -> None:
        try:
            target(data)
        except expected:
            return

    args = list(sys.argv)
    if not any(a.startswith("-artifact_prefix=") for a in args):
        args.append(f"-artifact_prefix={folder}/")
    if not any(a.startswith("-max_len=") for a in args):
        args.append(f"-max_len={MAX_LEN}")
    if not any(not a.startswith("-") for a in args[1:]):
        args.append(str(corpus))
    atheris.Setup(args, one_input)
    atheris.Fuzz()
