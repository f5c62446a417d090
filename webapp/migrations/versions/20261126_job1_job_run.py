"""job_run: the day's digest is claimed in a table of its own, not in document_sequence

The digest used to mark a claimed day with a 'job:digest:<day>' row among the document
number counters; those rows move here as 'digest:<day>'.

Revision ID: job1jobrun0001
Revises: path1instpath01
Create Date: 2026-11-26 01:00:00
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

revision = "job1jobrun0001"
down_revision = "path1instpath01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_run",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_run")),
    )
    # Naive UTC like every time column here (CURRENT_TIMESTAMP would be the server's zone on PostgreSQL).
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.get_bind().execute(sa.text("INSERT INTO job_run (name, claimed_at) SELECT substr(name, 5), :now "
                                  "FROM document_sequence WHERE name LIKE 'job:%'"), {"now": now})
    op.execute("DELETE FROM document_sequence WHERE name LIKE 'job:%'")


def downgrade():
    op.execute("INSERT INTO document_sequence (name, next_value) SELECT 'job:' || name, 0 FROM job_run")
    op.drop_table("job_run")
