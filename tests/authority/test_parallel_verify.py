"""Signature checks in helper processes answer exactly as a loop of ``verify_with`` does.

Runs real helper processes (``spawn``); the one fake is the fault of a helper killed mid-way.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from smartlic.authority import parallel_verify
from smartlic.authority.endpoint import ProtocolService
from smartlic.authority.parallel_verify import PARALLEL_FROM, ParallelVerifier
from smartlic.authority.usage.models import UsageReport
from smartlic.core.envelope import Envelope
from smartlic.core.errors import SignatureMismatchError
from smartlic.core.keys import SigningKey, VerifyKey
from smartlic.core.protocol import Kind
from tests.authority.helpers import Device, World

pytestmark = pytest.mark.xdist_group("parallel_verify")


@pytest.fixture(scope="module")
def verifier() -> Iterator[ParallelVerifier]:
    pool = ParallelVerifier(processes=2)
    pool.start()
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def batch() -> list[tuple[Envelope, VerifyKey]]:
    device = Device()
    return [(device.rum(), device.key.public) for _ in range(PARALLEL_FROM * 3)]


def _tampered(envelope: Envelope) -> Envelope:
    value = bytes([envelope.signature.value[0] ^ 1]) + envelope.signature.value[1:]
    return dataclasses.replace(
        envelope, signature=dataclasses.replace(envelope.signature, value=value)
    )


def _error_here(pairs: list[tuple[Envelope, VerifyKey]]) -> str | None:
    try:
        for envelope, key in pairs:
            envelope.verify_with(key)
    except SignatureMismatchError as exc:
        return exc.reason
    return None


def _error_of(verifier: ParallelVerifier, pairs: list[tuple[Envelope, VerifyKey]]) -> str | None:
    try:
        verifier.check(pairs)
    except SignatureMismatchError as exc:
        return exc.reason
    return None


def test_a_good_batch_passes(verifier: ParallelVerifier, batch: list) -> None:
    assert _error_of(verifier, batch) is None


@pytest.mark.parametrize("bad", [[0], [PARALLEL_FROM * 2 + 7], [300, 40], [383]])
def test_the_first_bad_signature_in_order_is_the_one_named(
    verifier: ParallelVerifier, batch: list, bad: list[int]
) -> None:
    pairs = list(batch)
    for index in bad:
        pairs[index] = (_tampered(pairs[index][0]), pairs[index][1])
    assert _error_of(verifier, pairs) == _error_here(pairs) is not None


def test_a_key_that_is_not_the_named_one_is_refused_as_in_a_loop(
    verifier: ParallelVerifier, batch: list
) -> None:
    pairs = list(batch)
    pairs[200] = (pairs[200][0], SigningKey.generate().public)  # key id mismatch
    pairs[250] = (_tampered(pairs[250][0]), pairs[250][1])
    assert _error_of(verifier, pairs) == _error_here(pairs)
    assert "expected key" in (_error_of(verifier, pairs) or "")


def test_a_killed_helper_is_replaced_and_the_answer_stays_right(batch: list) -> None:
    pool = ParallelVerifier(processes=2)
    try:
        pool.start()
        executor = pool._executor()
        for pid in list(executor._processes):  # the fault: a helper dies
            os.kill(pid, signal.SIGKILL)
        pairs = list(batch)
        pairs[150] = (_tampered(pairs[150][0]), pairs[150][1])
        assert _error_of(pool, pairs) == _error_here(pairs) is not None  # checked here
        assert _error_of(pool, batch) is None  # a new pool, working
    finally:
        pool.close()


def test_small_batches_never_start_helpers(batch: list) -> None:
    pool = ParallelVerifier(processes=2)
    pool.check(batch[: PARALLEL_FROM - 1])
    assert pool._pool is None


def test_a_large_request_with_one_forged_report_stores_nothing(world: World) -> None:
    """End to end through the shared pool: one bad signature among hundreds refuses it all."""
    assert world.authority.verifier is parallel_verify.shared
    device = Device()
    reports = [device.rum() for _ in range(PARALLEL_FROM * 2)]
    reports[PARALLEL_FROM + 3] = _tampered(reports[PARALLEL_FROM + 3])
    service = ProtocolService(world.authority)
    body = device.request(Kind.USAGE_REPORT, reports=tuple(reports)).to_bytes()
    response = service.handle(body, tenant=world.tenant)
    assert response.error_code == SignatureMismatchError.code
    with world.authority.sessions() as s:
        stored = s.scalar(
            select(func.count()).select_from(UsageReport).where(UsageReport.udi == str(device.udi))
        )
    assert stored == 0
    reports[PARALLEL_FROM + 3] = device.rum()
    body = device.request(Kind.USAGE_REPORT, reports=tuple(reports)).to_bytes()
    assert service.handle(body, tenant=world.tenant).error_code is None
