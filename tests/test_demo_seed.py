"""`flask demo seed`: the fictional Larkfield Primary School."""

from collections import Counter
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from server.auth.models import User
from server.auth.passwords import password_problems, verify_password
from server.auth.roles import Role
from server.clock import school_today
from server.demo.seed import DEMO_PASSWORD, STAFF
from server.extensions import db
from server.incidents.models import Agency, Category
from server.pupils.models import Pupil, SchoolClass
from server.pupils.upn import is_valid_upn
from server.pupils.years import birth_window

# Names from the school policy Haven replaces: never in demo or test data.
POLICY_NAMES = ("bottell", "chuard", "barlow", "hewitt", "nutgrove", "lucy")


@pytest.fixture
def seeded(app, runner):
    # Early in the summer term, so the school year is 2025-26 whatever today is.
    with time_machine.travel(datetime(2026, 5, 11, 9, 0, tzinfo=UTC), tick=False):
        result = runner.invoke(args=["demo", "seed"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            yield result


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_creates_the_school(seeded):
    assert count(SchoolClass) == 14
    assert count(Pupil) == 420
    classes = db.session.scalars(select(SchoolClass)).all()
    assert Counter(c.year_group for c in classes) == {y: 2 for y in "R123456"}
    assert all(len(c.pupils) == 30 for c in classes)
    assert all(c.teachers for c in classes)
    assert count(Category) > 0 and count(Agency) > 0
    assert db.session.scalar(select(Category).where(Category.name == "Safeguarding")).dsl_only


def test_staff_cover_every_role_some_with_two(seeded):
    users = db.session.scalars(select(User)).all()
    assert 15 <= len(users) <= 20
    held = Counter(role for user in users for role in user.roles)
    assert set(held) == set(Role)
    assert held[Role.DSL] >= 2  # the DSL and a deputy
    assert any(len(user.roles) > 1 for user in users)
    assert all(user.email.endswith("@larkfield.example") and user.active for user in users)


def test_every_demo_password_passes_the_rule_and_signs_in(seeded):
    for user in db.session.scalars(select(User)):
        assert password_problems(DEMO_PASSWORD, email=user.email, full_name=user.full_name) == []
        assert verify_password(user.password_hash, DEMO_PASSWORD)


def test_pupils_are_valid_fictional_and_fit_their_year(seeded):
    pupils = db.session.scalars(select(Pupil)).all()
    assert all(is_valid_upn(p.upn) for p in pupils)
    assert len({p.upn for p in pupils}) == 420
    today = school_today()
    for p in pupils:
        first, last = birth_window(p.year_group, today)
        assert first <= p.date_of_birth <= last, (p.upn, p.year_group, p.date_of_birth)
        assert p.school_class.year_group == p.year_group
    assert any(p.preferred_first_name for p in pupils)
    assert len({p.legal_name for p in pupils}) == 420


def test_reception_dates_of_birth_in_2025_26(seeded):
    reception = db.session.scalars(select(Pupil).where(Pupil.year_group == "R")).all()
    assert min(p.date_of_birth for p in reception).isoformat() >= "2020-09-01"
    assert max(p.date_of_birth for p in reception).isoformat() <= "2021-08-31"


def test_no_names_from_the_policy_document(seeded):
    names = [f"{p.legal_name} {p.display_name}" for p in db.session.scalars(select(Pupil))]
    names += [f"{u.full_name} {u.email}" for u in db.session.scalars(select(User))]
    names += [c.name for c in db.session.scalars(select(SchoolClass))]
    text = " ".join(names).lower()
    assert not [name for name in POLICY_NAMES if name in text]


def test_seed_prints_the_sign_ins(seeded):
    output = seeded.output
    assert (
        "Seeded the demo school: 20 staff, 14 classes, 420 pupils, 8 fictional incidents." in output
    )
    assert f"Password for every demo account: {DEMO_PASSWORD}" in output
    featured = [person for person in STAFF if person.featured]
    for person in featured:
        assert person.email in output
    assert "Designated safeguarding lead" in output and "Administrator" in output


def test_seed_if_empty_is_idempotent(seeded, runner):
    again = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert again.exit_code == 0
    assert "was not seeded" in again.output and DEMO_PASSWORD in again.output
    assert count(Pupil) == 420 and count(User) == len(STAFF)


def test_seed_without_if_empty_refuses_a_database_with_people(seeded, runner):
    again = runner.invoke(args=["demo", "seed"])
    assert again.exit_code == 1
    assert "only for an empty database" in again.output
    assert count(Pupil) == 420


def test_if_empty_leaves_a_real_school_alone(app, runner, make_user):
    make_user(Role.ADMIN)
    result = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert result.exit_code == 0
    assert "no demo accounts" in result.output
    with app.app_context():
        assert count(Pupil) == 0 and count(SchoolClass) == 0


def test_sign_ins_command(seeded, runner):
    result = runner.invoke(args=["demo", "sign-ins"])
    assert result.exit_code == 0
    assert "helen.adebayo@larkfield.example" in result.output and DEMO_PASSWORD in result.output


def test_demo_has_a_few_weeks_of_fictional_concerns(seeded):
    from server.alerts.models import Alert
    from server.audit.operations import verify_all
    from server.demo.incidents import STORIES
    from server.incidents.models import Action, Incident

    incidents = list(db.session.scalars(select(Incident).order_by(Incident.number)))
    assert len(incidents) == len(STORIES) == 8
    assert sum(incident.urgent for incident in incidents) == 2
    statuses = Counter(incident.status for incident in incidents)
    assert statuses["monitoring"] == 2 and statuses["no_further_action"] == 1
    assert count(Action) == sum(len(story.actions) for story in STORIES)
    # Every story went through submission: the DSL was alerted, and the chain holds.
    helen = db.session.scalars(select(User).where(User.email.startswith("helen."))).one()
    alerts = db.session.scalars(select(Alert).where(Alert.user_id == helen.id))
    assert {alert.incident_id for alert in alerts} >= {incident.id for incident in incidents}
    assert verify_all().intact
    # The stories name no pupil: the roster gives each one its child.
    names = {p.legal_first_name for p in db.session.scalars(select(Pupil))}
    words = {word.strip(".,!?\"'") for incident in incidents for word in incident.account.split()}
    assert not names & words
