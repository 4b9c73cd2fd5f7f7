"""Roles and what each may do (SPEC §1): the single table every permission check reads."""

from enum import StrEnum


class Role(StrEnum):
    STAFF = "staff"
    CLASS_TEACHER = "class_teacher"
    PASTORAL = "pastoral"
    DSL = "dsl"
    SLT = "slt"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.STAFF: "Staff",
    Role.CLASS_TEACHER: "Class teacher",
    Role.PASTORAL: "Pastoral",
    Role.DSL: "Designated safeguarding lead",
    Role.SLT: "Senior leadership",
    Role.ADMIN: "Administrator",
}


class Permission(StrEnum):
    RECORD_INCIDENTS = "record_incidents"
    REVIEW_OWN_CLASS = "review_own_class"
    REVIEW_ALL = "review_all"
    SEE_SENSITIVE = "see_sensitive"
    CHOOSE_DSL_ONLY_CATEGORIES = "choose_dsl_only_categories"
    CORRECT_RECORDS = "correct_records"
    TRANSFER_RECORDS = "transfer_records"
    RUN_REPORTS = "run_reports"
    # "Who viewed this child" (SPEC §9): the audit trail of a pupil's records.
    SEE_WHO_VIEWED = "see_who_viewed"
    HOLD_PASSKEY = "hold_passkey"
    MANAGE_USERS = "manage_users"
    MANAGE_ROSTER = "manage_roster"
    MANAGE_SETTINGS = "manage_settings"
    DECIDE_ACCESS_REQUESTS = "decide_access_requests"
    # Retention (SPEC §8): review, legal holds and proposing disposal are the DSL's; a disposal
    # is approved by a second person, a DSL or a member of SLT.
    MANAGE_RETENTION = "manage_retention"
    APPROVE_DISPOSAL = "approve_disposal"
    SUBJECT_ACCESS = "subject_access"


_RECORDER = {Permission.RECORD_INCIDENTS}
_REVIEWER = {Permission.REVIEW_ALL, Permission.SEE_SENSITIVE, Permission.HOLD_PASSKEY}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.STAFF: frozenset(_RECORDER),
    Role.CLASS_TEACHER: frozenset(
        _RECORDER | {Permission.REVIEW_OWN_CLASS, Permission.HOLD_PASSKEY}
    ),
    Role.PASTORAL: frozenset(_RECORDER | _REVIEWER),
    Role.SLT: frozenset(
        _RECORDER | _REVIEWER | {Permission.RUN_REPORTS, Permission.APPROVE_DISPOSAL}
    ),
    Role.DSL: frozenset(
        _RECORDER
        | _REVIEWER
        | {
            Permission.CHOOSE_DSL_ONLY_CATEGORIES,
            Permission.CORRECT_RECORDS,
            Permission.TRANSFER_RECORDS,
            Permission.RUN_REPORTS,
            Permission.SEE_WHO_VIEWED,
            # Only a DSL may grant the roles that see Safeguarding (server/auth/accounts.py).
            Permission.MANAGE_USERS,
            # ...and anything else that lets someone read incidents: the office asks, a DSL
            # decides (server/approvals/).
            Permission.DECIDE_ACCESS_REQUESTS,
            Permission.MANAGE_RETENTION,
            Permission.APPROVE_DISPOSAL,
            Permission.SUBJECT_ACCESS,
        }
    ),
    # The office manages people and settings but never reads incident content.
    Role.ADMIN: frozenset(
        {
            Permission.MANAGE_USERS,
            Permission.MANAGE_ROSTER,
            Permission.MANAGE_SETTINGS,
            Permission.HOLD_PASSKEY,
        }
    ),
}


# Holding none of these (the office's admin role) means never reading incident content.
READS_INCIDENTS = (
    Permission.RECORD_INCIDENTS,
    Permission.REVIEW_ALL,
    Permission.REVIEW_OWN_CLASS,
    Permission.SEE_SENSITIVE,
)
READER_ROLES = frozenset(
    role for role, granted in ROLE_PERMISSIONS.items() if granted & set(READS_INCIDENTS)
)


def permissions_for(roles: set[Role]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)
