"""The composite key from a stored report to its instance (migration 0005, ADR 0013): reports
stored before it survive the upgrade and the way back, a report naming an account or VA other
than its instance's is refused by the database, and removing an instance still removes its
reports."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from smartlic.authority.db import make_engine
from smartlic.authority.migrate import downgrade, upgrade

_ACCOUNTS = ("a1", "a2")


_ACCOUNT = text("INSERT INTO smart_accounts (id, name, created_at) VALUES (:id, :name, 0)")
_VA = text(
    "INSERT INTO virtual_accounts (id, account_id, name, tenant_id, allow_export, created_at) "
    "VALUES (:id, :account, 'Default', :tenant, false, 0)"
)
_INSTANCE = text(
    "INSERT INTO product_instances (id, account_id, va_id, udi, first_seen, trusted, "
    "trust_serial, allow_export) VALUES (:id, :account, :va, :udi, 0, false, 0, false)"
)
_REPORT = text(
    "INSERT INTO usage_reports (id, account_id, va_id, instance_id, udi, report_id, digest, "
    "trusted, license_name, entitlement_tag, count, start_at, end_at, received_at, envelope) "
    "VALUES (:id, :account, :va, :instance, 'PID:C9300 SN:S0', :rid, 'd', false, 'lic', 'tag', "
    "1, 0, 1, 1, '{}')"
)


def _seed(conn: Connection) -> None:
    """Two accounts with one VA and one instance each, and one report of the first instance,
    in the columns of revision 0004."""
    for n, account in enumerate(_ACCOUNTS):
        conn.execute(_ACCOUNT, {"id": account, "name": f"Account {n}"})
        conn.execute(_VA, {"id": f"v{n}", "account": account, "tenant": f"t{n}"})
        _instance(conn, f"i{n}", account, f"v{n}", f"PID:C9300 SN:S{n}")
    _report(conn, "r0", "a1", "v0", "i0", 1)


def _instance(conn: Connection, row: str, account: str, va: str, udi: str) -> None:
    conn.execute(_INSTANCE, {"id": row, "account": account, "va": va, "udi": udi})


def _report(conn: Connection, row: str, account: str, va: str, instance: str, rid: int) -> None:
    params = {"id": row, "account": account, "va": va, "instance": instance, "rid": rid}
    conn.execute(_REPORT, params)


def _reports(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r for (r,) in conn.exec_driver_sql("SELECT id FROM usage_reports ORDER BY id")]


@pytest.fixture
def engine(db_url: str) -> Engine:
    return make_engine(db_url)


def test_reports_stored_before_the_key_survive_the_upgrade_and_the_way_back(
    engine: Engine,
) -> None:
    upgrade(engine, "0004")
    with engine.begin() as conn:
        _seed(conn)
    upgrade(engine)
    assert _reports(engine) == ["r0"]
    downgrade(engine, "0004")
    assert _reports(engine) == ["r0"]
    upgrade(engine)
    assert _reports(engine) == ["r0"]
    engine.dispose()


@pytest.mark.parametrize(
    ("account", "va", "instance"),
    [("a2", "v0", "i0"), ("a1", "v1", "i0"), ("a1", "v0", "i1"), ("a1", "v0", "gone")],
    ids=["other-account", "other-va", "other-instance", "no-instance"],
)
def test_a_report_can_only_name_its_instances_account_and_va(
    engine: Engine, account: str, va: str, instance: str
) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        _seed(conn)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _report(conn, "r1", account, va, instance, 2)
    assert _reports(engine) == ["r0"]
    engine.dispose()


def test_removing_an_instance_or_its_account_removes_its_reports(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        _seed(conn)
        _report(conn, "r1", "a1", "v0", "i0", 2)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM product_instances WHERE id = 'i0'")
    assert _reports(engine) == []
    with engine.begin() as conn:
        _instance(conn, "i0", "a1", "v0", "PID:C9300 SN:S0")
        _report(conn, "r2", "a1", "v0", "i0", 3)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM smart_accounts WHERE id = 'a1'")
    assert _reports(engine) == []
    engine.dispose()
