"""Signature checks of a large batch in helper processes, one per core.

Verification is most of an ingest's CPU and needs nothing but the bytes, so it is the part to
spread. Threads would not do: Ed25519 runs in C with the GIL released, but a thread must take
the GIL back after every signature, and while another request of the same worker runs Python
(decoding, storing) it waits up to the interpreter's switch interval (5 ms) each time — 25
signature checks' worth. Helper processes have no GIL to share; the request's thread waits for
them without holding it, so the worker keeps decoding and storing other requests meanwhile, and
a worker that took more of the requests in flight than its siblings still uses every core.

The pool is one per OS process (every ``Authority`` of it shares it), started on first use, or
at once by ``start()`` (a served worker), and stopped at exit. Small batches are checked in the
caller's thread; anything wrong with the pool (a helper killed, the pool shut down) falls back
to that too, so a request is never refused because of the pool. The answer is the same either
way: the first envelope, in order, whose signature does not verify raises what ``verify_with``
raises for it.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from smartlic.core.envelope import Envelope
from smartlic.core.keys import SIGNATURE_BYTES, VerifyKey

PARALLEL_FROM = 128
"""Below this many signatures a batch is checked in the caller's thread: shipping it to the
helpers costs more than it saves."""

CHUNK = 256
"""Signatures per task: small enough that the helpers of all workers share a batch evenly,
large enough that a task's fixed cost (about 0.1 ms) stays under 1 % of it."""

Task = list[tuple[bytes, bytes, bytes]]
"""(raw public key, signature, signed bytes) of each envelope of a chunk."""

_keys: dict[bytes, Ed25519PublicKey] = {}


def _first_failure(task: Task) -> int:
    """In a helper: the index of the first signature that does not verify, or -1."""
    for index, (raw, signature, message) in enumerate(task):
        key = _keys.get(raw)
        if key is None:
            if len(_keys) >= 10_000:
                _keys.clear()
            key = _keys[raw] = Ed25519PublicKey.from_public_bytes(raw)
        if len(signature) != SIGNATURE_BYTES:
            return index
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return index
    return -1


def _watch_parent(parent: int) -> None:
    """In a helper: exit as soon as the worker that started it is gone.

    A worker killed before its exit handlers run (SIGKILL, or SIGTERM while it is still
    starting) cannot shut its pool down; its helpers would live on as orphans, holding the
    server's stdout and stderr open, so whoever waits for the server's output waits forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _check_here(pairs: Sequence[tuple[Envelope, VerifyKey]]) -> None:
    for envelope, key in pairs:
        envelope.verify_with(key)


class ParallelVerifier:
    """Checks ``(envelope, key)`` pairs; raises the error of the first one, in order, that
    fails — the same error a loop of ``verify_with`` over them would raise."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the helpers now rather than on the first large batch (they take a few tenths
        of a second to import what they need)."""
        if self.processes > 1:
            pool = self._executor()
            for future in [pool.submit(_first_failure, []) for _ in range(self.processes)]:
                future.result()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # "spawn": a fresh interpreter, never a fork of a process that runs threads.
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=context,
                    initializer=_watch_parent,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def check(self, pairs: Sequence[tuple[Envelope, VerifyKey]]) -> None:
        if self.processes < 2 or len(pairs) < PARALLEL_FROM:
            _check_here(pairs)
            return
        # The key id must name the key (as verify_with checks first); the rest is the helpers'.
        for index, (envelope, key) in enumerate(pairs):
            if envelope.signature.key != key.key_id:
                _check_here(pairs[: index + 1])
        tasks: list[Task] = [
            [
                (key.raw, envelope.signature.value, envelope.signed_bytes())
                for envelope, key in pairs[start : start + CHUNK]
            ]
            for start in range(0, len(pairs), CHUNK)
        ]
        pool = self._executor()
        try:
            futures: list[Future[int]] = [pool.submit(_first_failure, task) for task in tasks]
            failures = [future.result() for future in futures]
        except (BrokenProcessPool, RuntimeError):
            # A helper died or the pool is shutting down: check here, start afresh next time.
            self._discard(pool)
            _check_here(pairs)
            return
        for number, failure in enumerate(failures):
            if failure >= 0:
                index = number * CHUNK + failure
                _check_here(pairs[index : index + 1])  # raises the error of that envelope
                raise AssertionError("a signature refused by a helper verified here")

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


shared = ParallelVerifier()
"""The verifier of this process."""
atexit.register(shared.close)
