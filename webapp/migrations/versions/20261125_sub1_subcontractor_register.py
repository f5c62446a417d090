"""subcontractor register (Art. 10)

Revision ID: sub1subcontractors01
Revises: cb6b6ccb4d75
Create Date: 2026-11-25 23:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "sub1subcontractors01"
down_revision = "cb6b6ccb4d75"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "subcontractor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("contractor_id", sa.Integer(), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("corporate_number", sa.String(length=13), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("asset_ids", sa.JSON(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("city_decision_number", sa.String(length=40), nullable=False),
        sa.Column("security_decision_number", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("liability_statement", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=op.f("fk_subcontractor_contract_id_contract")),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name=op.f("fk_subcontractor_instance_id_process_instance")),
        sa.ForeignKeyConstraint(["contractor_id"], ["organization.id"],
                                name=op.f("fk_subcontractor_contractor_id_organization")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subcontractor")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_subcontractor_instance_id")),
    )
    with op.batch_alter_table("subcontractor", schema=None) as batch_op:
        batch_op.create_index("ix_subcontractor_contract_status", ["contract_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_subcontractor_corporate_number"), ["corporate_number"], unique=False)


def downgrade():
    with op.batch_alter_table("subcontractor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subcontractor_corporate_number"))
        batch_op.drop_index("ix_subcontractor_contract_status")
    op.drop_table("subcontractor")
