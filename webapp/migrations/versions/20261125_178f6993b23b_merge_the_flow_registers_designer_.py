"""merge the flow registers, designer drafts, preferences and security branches

Revision ID: 178f6993b23b
Revises: des1drafts01, dev1devices01, inc1incidents01, ntf1prefs01, rel1releases01, sec1loginfail01, sub1subcontractors01
Create Date: 2026-11-25 21:36:21.506775

"""


# revision identifiers, used by Alembic.
revision = '178f6993b23b'
down_revision = ('des1drafts01', 'dev1devices01', 'inc1incidents01', 'ntf1prefs01', 'rel1releases01', 'sec1loginfail01', 'sub1subcontractors01')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
