"""usage reports: one composite key to their instance instead of three single ones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 16:00:00.000000

A stored report names its instance together with the account and VA the instance is in
(ADR 0013): the database then checks one parent row per report — the instance row the ingesting
transaction has just written — instead of also taking a share lock on the account and VA rows
that every concurrent ingest of the account shares (on PostgreSQL those locks become
multi-transaction locks and the per-row checks dominated the server's cost), and a report can no
longer name an account or VA other than its instance's.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SINGLE = (
    ("fk_usage_reports_account_id_smart_accounts", "smart_accounts", "account_id"),
    ("fk_usage_reports_va_id_virtual_accounts", "virtual_accounts", "va_id"),
    ("fk_usage_reports_instance_id_product_instances", "product_instances", "instance_id"),
)
_KEY = ["account_id", "va_id", "id"]


def upgrade() -> None:
    with op.batch_alter_table("product_instances", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_product_instances_account_id_va_id_id"), _KEY
        )
    with op.batch_alter_table("usage_reports", schema=None) as batch_op:
        for name, _, _ in _SINGLE:
            batch_op.drop_constraint(batch_op.f(name), type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_usage_reports_account_id_product_instances"),
            "product_instances",
            ["account_id", "va_id", "instance_id"],
            _KEY,
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_reports", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_usage_reports_account_id_product_instances"), type_="foreignkey"
        )
        for name, table, column in _SINGLE:
            batch_op.create_foreign_key(
                batch_op.f(name), table, [column], ["id"], ondelete="CASCADE"
            )
    with op.batch_alter_table("product_instances", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_product_instances_account_id_va_id_id"), type_="unique"
        )
