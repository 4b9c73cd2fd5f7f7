"""retention: legal holds, disposal tombstones, per-file keys, subject access exports; the
append-only guard of incidents and their parts lets through one UPDATE only: the blanking of an
approved disposal

Revision ID: 0012_retention
Revises: 0011_transfer
Create Date: 2026-12-04 15:40:00

Disposal (SPEC §8) is the one change a record may ever undergo after it is written, and only
this narrow one: the content columns set to fixed blanks, every other column unchanged, for a
pupil with an approved disposal (an `access_requests` row of kind 'disposal' decided by someone
other than its proposer) and no legal hold in force. The triggers check all of that themselves,
so no client (the application, psql, a plain `sqlite3`) gets any other UPDATE or any DELETE.
Records imported from another school (0011_transfer: `imported_incidents`, `imported_files`)
get the same narrow exception, and an imported transfer's pupil is fixed once set (the guard of
a sender's chronology PDF finds its pupil through it).
The constants below are the blanks of `server.retention.blanking` when this was written
(tests/test_retention.py checks the two agree).
"""
import sqlalchemy as sa
from alembic import op

import server.database
from server.database import drop_append_only, make_append_only

# revision identifiers, used by Alembic.
revision = '0012_retention'
down_revision = '0011_transfer'
branch_labels = None
depends_on = None

DISPOSED_TEXT = '[Removed at the end of the retention period]'
DISPOSED_DIGEST = '0' * 64
DISPOSED_IMPORTED_CONTENT = '{"account": "' + DISPOSED_TEXT + '", "disposed": true}'
APPEND_ONLY = ('legal_hold_events', 'disposal_tombstones', 'imported_tombstones')

# table: (how to reach the pupil from OLD, columns kept as they were, {column: blank})
BLANKABLE = {
    'incidents': (
        'OLD.pupil_id',
        ('id', 'number', 'uuid', 'pupil_id', 'occurred_at', 'parents_contacted',
         'medical_attention', 'urgent', 'author_id', 'created_at'),
        {'account': f"'{DISPOSED_TEXT}'", 'content_hash': f"'{DISPOSED_DIGEST}'",
         'location': None, 'parents_reason': None, 'recorded_on_behalf_name': None,
         'recorded_on_behalf_role': None},
    ),
    'actions': (
        '(SELECT i.pupil_id FROM incidents i WHERE i.id = OLD.incident_id)',
        ('id', 'incident_id', 'author_id', 'assignee_id', 'due_on', 'created_at'),
        {'text': f"'{DISPOSED_TEXT}'", 'recorded_on_behalf_name': None,
         'recorded_on_behalf_role': None},
    ),
    'incident_events': (
        '(SELECT i.pupil_id FROM incidents i WHERE i.id = OLD.incident_id)',
        ('id', 'incident_id', 'kind', 'author_id', 'created_at'),
        {'note': None},
    ),
    'incident_body_marks': (
        '(SELECT i.pupil_id FROM incidents i WHERE i.id = OLD.incident_id)',
        ('id', 'incident_id', 'number', 'side', 'x', 'y', 'kind'),
        {'note': None},
    ),
    'incident_files': (
        '(SELECT i.pupil_id FROM incidents i WHERE i.id = OLD.incident_id)',
        ('id', 'incident_id', 'stored_name', 'content_type', 'size', 'created_at'),
        {'original_name': "'disposed'", 'sha256': f"'{DISPOSED_DIGEST}'"},
    ),
    # Records imported from another school (0011_transfer). A file's pupil is its incident's,
    # or (the sender's chronology PDF, which has no incident) its transfer's, whose pupil
    # cannot change once set (_guard_transfer_pupil).
    'imported_incidents': (
        'OLD.pupil_id',
        ('id', 'incoming_transfer_id', 'pupil_id', 'source_uuid', 'source_number',
         'occurred_at', 'sensitive', 'imported_at'),
        {'content': f"'{DISPOSED_IMPORTED_CONTENT}'"},
    ),
    'imported_files': (
        '(SELECT COALESCE((SELECT i.pupil_id FROM imported_incidents i '
        'WHERE i.id = OLD.imported_incident_id), (SELECT t.pupil_id FROM incoming_transfers t '
        'WHERE t.id = OLD.incoming_transfer_id)))',
        ('id', 'incoming_transfer_id', 'imported_incident_id', 'kind', 'content_type', 'size',
         'stored_name', 'imported_at'),
        {'original_name': "'disposed'", 'sha256': f"'{DISPOSED_DIGEST}'"},
    ),
}


def _disposal_allowed(dialect: str, table: str) -> str:
    """SQL true when this UPDATE only blanks a row of a pupil whose disposal was approved by a
    second person and who has no legal hold in force."""
    pupil, kept, blanks = BLANKABLE[table]
    same = 'IS' if dialect == 'sqlite' else 'IS NOT DISTINCT FROM'
    true = '1' if dialect == 'sqlite' else 'TRUE'
    conditions = [f'NEW.{column} {same} OLD.{column}' for column in kept]
    for column, blank in blanks.items():
        conditions.append(f'NEW.{column} IS NULL' if blank is None else f'NEW.{column} = {blank}')
    conditions.append(
        'EXISTS (SELECT 1 FROM access_requests r JOIN access_decisions d ON d.request_id = r.id '
        f"WHERE r.kind = 'disposal' AND r.target_id = {pupil} AND d.approved = {true} "
        'AND d.decided_by_id <> r.requested_by_id)'
    )
    conditions.append(
        'NOT EXISTS (SELECT 1 FROM legal_hold_events h '
        f"WHERE h.pupil_id = {pupil} AND h.kind = 'set' AND NOT EXISTS ("
        'SELECT 1 FROM legal_hold_events l WHERE l.pupil_id = h.pupil_id '
        "AND l.kind = 'lifted' AND l.id > h.id))"
    )
    return ' AND '.join(conditions)


def _guard_disposal_only(table: str) -> None:
    dialect = op.get_bind().dialect.name
    allowed = _disposal_allowed(dialect, table)
    if dialect == 'sqlite':
        op.execute(f'DROP TRIGGER IF EXISTS {table}_no_update')
        op.execute(
            f'CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} '
            f"WHEN NOT ({allowed}) BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
        return
    # Same trigger name as make_append_only's, so server.database still finds the table.
    op.execute(f'DROP TRIGGER IF EXISTS {table}_no_change ON {table}')
    op.execute(
        f'CREATE OR REPLACE FUNCTION haven_{table}_disposal_only() RETURNS trigger '
        'LANGUAGE plpgsql AS $$ BEGIN '
        f"IF TG_OP = 'UPDATE' THEN IF ({allowed}) THEN RETURN NEW; END IF; END IF; "
        "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    )
    op.execute(
        f'CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} '
        f'FOR EACH ROW EXECUTE FUNCTION haven_{table}_disposal_only()'
    )
    op.execute(f'ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_change')


def _guard_append_only(table: str) -> None:
    """Downgrade: the plain guard of make_append_only again."""
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        op.execute(f'DROP TRIGGER IF EXISTS {table}_no_update')
        op.execute(
            f'CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} '
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
        return
    op.execute(f'DROP TRIGGER IF EXISTS {table}_no_change ON {table}')
    op.execute(f'DROP FUNCTION IF EXISTS haven_{table}_disposal_only()')
    op.execute(
        f'CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} '
        'FOR EACH ROW EXECUTE FUNCTION haven_refuse_change()'
    )
    op.execute(f'ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_change')


def _guard_transfer_pupil() -> None:
    """An imported transfer's pupil cannot change once set: the guard on imported files finds
    the pupil of the sender's chronology PDF through it."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            'CREATE TRIGGER incoming_transfers_pupil_fixed BEFORE UPDATE ON incoming_transfers '
            'WHEN OLD.pupil_id IS NOT NULL AND NEW.pupil_id IS NOT OLD.pupil_id '
            "BEGIN SELECT RAISE(ABORT, 'incoming_transfers is append-only in pupil_id'); END"
        )
        return
    op.execute(
        'CREATE TRIGGER incoming_transfers_pupil_fixed BEFORE UPDATE ON incoming_transfers '
        'FOR EACH ROW WHEN (OLD.pupil_id IS NOT NULL AND NEW.pupil_id IS DISTINCT FROM '
        'OLD.pupil_id) EXECUTE FUNCTION haven_refuse_change()'
    )
    op.execute(
        'ALTER TABLE incoming_transfers ENABLE ALWAYS TRIGGER incoming_transfers_pupil_fixed'
    )


def upgrade():
    op.create_table('legal_hold_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_legal_hold_events_by_id_users')),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_legal_hold_events_pupil_id_pupils')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_hold_events'))
    )
    op.create_index('ix_legal_hold_events_pupil_id', 'legal_hold_events', ['pupil_id'])

    op.create_table('disposal_tombstones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('incident_number', sa.Integer(), nullable=False),
    sa.Column('occurred_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('recorded_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('categories', sa.Text(), nullable=False),
    sa.Column('actions', sa.Integer(), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=False),
    sa.Column('disposed_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_disposal_tombstones_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['request_id'], ['access_requests.id'], name=op.f('fk_disposal_tombstones_request_id_access_requests')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_disposal_tombstones_incident_id_incidents')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'], name=op.f('fk_disposal_tombstones_proposed_by_id_users')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_disposal_tombstones_approved_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disposal_tombstones')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_disposal_tombstones_incident_id'))
    )
    op.create_index('ix_disposal_tombstones_pupil_id', 'disposal_tombstones', ['pupil_id'])

    # What is left of an incident imported from another school once disposed of.
    op.create_table('imported_tombstones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('imported_incident_id', sa.Integer(), nullable=False),
    sa.Column('origin_school', sa.String(length=200), nullable=False),
    sa.Column('origin_urn', sa.String(length=20), nullable=False),
    sa.Column('source_number', sa.Integer(), nullable=False),
    sa.Column('occurred_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('imported_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('categories', sa.Text(), nullable=False),
    sa.Column('actions', sa.Integer(), nullable=False),
    sa.Column('files', sa.Integer(), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=False),
    sa.Column('disposed_at', server.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_imported_tombstones_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['request_id'], ['access_requests.id'], name=op.f('fk_imported_tombstones_request_id_access_requests')),
    sa.ForeignKeyConstraint(['imported_incident_id'], ['imported_incidents.id'], name=op.f('fk_imported_tombstones_imported_incident_id_imported_incidents')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'], name=op.f('fk_imported_tombstones_proposed_by_id_users')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_imported_tombstones_approved_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_tombstones')),
    sa.UniqueConstraint('imported_incident_id', name=op.f('uq_imported_tombstones_imported_incident_id'))
    )
    op.create_index('ix_imported_tombstones_pupil_id', 'imported_tombstones', ['pupil_id'])

    # A file's own data key, wrapped under the master file key. Deleting the row is what
    # destroys the key: any copy of the file left anywhere can no longer be decrypted.
    op.create_table('file_keys',
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('stored_name', name=op.f('pk_file_keys'))
    )

    # Working state of a subject access export being reviewed: not a record (the release is
    # audited), removed with the pupil's records or when superseded.
    op.create_table('subject_access_exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.database.UTCDateTime(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('redactions', sa.JSON(), nullable=False),
    sa.Column('released_at', server.database.UTCDateTime(), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['pupil_id'], ['pupils.id'], name=op.f('fk_subject_access_exports_pupil_id_pupils')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_subject_access_exports_created_by_id_users')),
    sa.ForeignKeyConstraint(['released_by_id'], ['users.id'], name=op.f('fk_subject_access_exports_released_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subject_access_exports'))
    )
    op.create_index('ix_subject_access_exports_pupil_id', 'subject_access_exports', ['pupil_id'])

    for table in APPEND_ONLY:
        make_append_only(table)
    for table in BLANKABLE:
        _guard_disposal_only(table)
    _guard_transfer_pupil()


def downgrade():
    op.execute('DROP TRIGGER IF EXISTS incoming_transfers_pupil_fixed'
               + ('' if op.get_bind().dialect.name == 'sqlite' else ' ON incoming_transfers'))
    for table in BLANKABLE:
        _guard_append_only(table)
    for table in reversed(APPEND_ONLY):
        drop_append_only(table)
    op.drop_index('ix_subject_access_exports_pupil_id', table_name='subject_access_exports')
    op.drop_table('subject_access_exports')
    op.drop_table('file_keys')
    op.drop_index('ix_imported_tombstones_pupil_id', table_name='imported_tombstones')
    op.drop_table('imported_tombstones')
    op.drop_index('ix_disposal_tombstones_pupil_id', table_name='disposal_tombstones')
    op.drop_table('disposal_tombstones')
    op.drop_index('ix_legal_hold_events_pupil_id', table_name='legal_hold_events')
    op.drop_table('legal_hold_events')
