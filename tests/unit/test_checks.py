"""The shared install rules, one named test per attack they stop."""

from __future__ import annotations

import pytest
from tests import vectors

from smartlic.core import xmlfile
from smartlic.core.artifacts import TrustCode
from smartlic.core.checks import check_clock_skew, check_not_older, check_udi
from smartlic.core.errors import RollbackError, TimestampMismatchError, WrongUdiError
from smartlic.core.keyset import Verifier
from smartlic.core.udi import Udi

NOW = vectors.T0 + 3 * vectors.DAY


def test_artifact_for_another_udi_is_refused() -> None:
    env = xmlfile.read(vectors.build().files["trust_code.xml"])[0]
    verifier = Verifier.from_anchor(vectors.keysets()[0])
    code = TrustCode.from_json(verifier.verify(env, env.type, now=NOW))
    other = Udi.parse("PID:C9300-24UX,SN:FCW0000X000")
    with pytest.raises(WrongUdiError, match="not for this product instance"):
        check_udi(code.udi, other, "trust code")
    check_udi(code.udi, vectors.UDI, "trust code")
    check_udi(vectors.HA.udis[1], vectors.HA, "authorization code")


@pytest.mark.parametrize(("delta", "ok"), [(0, True), (3600, True), (3601, False), (-7200, False)])
def test_clock_skew_table(delta: int, ok: bool) -> None:
    if ok:
        check_clock_skew(NOW + delta, NOW)
    else:
        with pytest.raises(TimestampMismatchError, match="more than 60 minutes"):
            check_clock_skew(NOW + delta, NOW)


def test_replayed_older_artifact_is_refused() -> None:
    check_not_older(None, NOW, "policy")
    check_not_older(NOW, NOW, "policy")
    with pytest.raises(RollbackError, match="older than the installed one"):
        check_not_older(NOW, NOW - 1, "policy")
