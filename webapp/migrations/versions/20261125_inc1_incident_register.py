"""incident register (Art. 9, 19)

Revision ID: inc1incidents01
Revises: cb6b6ccb4d75
Create Date: 2026-11-25 23:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "inc1incidents01"
down_revision = "cb6b6ccb4d75"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("reopened_from_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("asset_ids", sa.JSON(), nullable=False),
        sa.Column("people_affected", sa.Integer(), nullable=True),
        sa.Column("containment", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("triaged_at", sa.DateTime(), nullable=True),
        sa.Column("policy_advice", sa.Text(), nullable=False),
        sa.Column("actions_taken", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("impact", sa.Text(), nullable=True),
        sa.Column("recurrence_prevention", sa.Text(), nullable=True),
        sa.Column("damage", sa.Boolean(), nullable=True),
        sa.Column("damage_amount", sa.BigInteger(), nullable=True),
        sa.Column("claim_decision", sa.String(length=12), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closure_decision_number", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=op.f("fk_incident_contract_id_contract")),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name=op.f("fk_incident_instance_id_process_instance")),
        sa.ForeignKeyConstraint(["reopened_from_id"], ["process_instance.id"],
                                name=op.f("fk_incident_reopened_from_id_process_instance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_incident_instance_id")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_contract_closed", ["contract_id", "closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_reopened_from_id"), ["reopened_from_id"], unique=False)


def downgrade():
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_reopened_from_id"))
        batch_op.drop_index("ix_incident_contract_closed")
    op.drop_table("incident")
