"""The physical floor: raw Ed25519 sign and verify rates on this machine, one core.

Every other figure in docs/benchmarks.md is reported as a ratio to these, measured in the same
run, so results from different machines compare.
"""

from __future__ import annotations

import time

from smartlic.core.envelope import ArtifactType, SigningType, pae, sign
from smartlic.core.keys import SigningKey


def rate(func: object, seconds: float = 1.0) -> float:
    """Calls per second of ``func`` over about ``seconds``."""
    assert callable(func)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            func()
        count += 100
    return count / elapsed


def measure(seconds: float = 1.0) -> dict[str, float]:
    key = SigningKey.generate()
    message = pae("rum", b"x" * 1500)
    signature = key.sign(message)
    envelope = sign(ArtifactType.RUM, b'{"x":1}', key, SigningType.BUILTIN)
    return {
        "ed25519_sign_per_s": rate(lambda: key.sign(message), seconds),
        "ed25519_verify_per_s": rate(lambda: key.public.verify(signature, message), seconds),
        "envelope_verify_per_s": rate(lambda: envelope.verify_with(key.public), seconds),
    }


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:24} {value:12,.0f}")
