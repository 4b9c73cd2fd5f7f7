"""Submissions at the same moment (issue 12): the lock that serialises numbering and the audit
chain is now taken only for the final append, so these hold it to account with real commits
and real threads, on SQLite or PostgreSQL (DATABASE_URL): numbers stay unique and gapless, the
chain does not fork, and the same UUID sent twice at once makes one incident."""

import threading
import uuid

import pytest
import sqlalchemy as sa

from server.audit.operations import verify_chain
from server.auth.accounts import create_user
from server.auth.models import User
from server.auth.roles import Role
from server.extensions import db
from server.incidents.models import Category, Incident
from server.incidents.submission import submit_incident
from server.incidents.vocabulary import install_default_vocabulary
from server.pupils.models import Pupil

pytestmark = pytest.mark.real_commits
SENDERS = 6


@pytest.fixture
def own_app(tmp_path_factory):
    from tests.conftest import make_database_url, make_test_app

    database = make_database_url(tmp_path_factory, "concurrency-db")
    app = make_test_app(next(database), tmp_path_factory.mktemp("concurrency"))
    app.config.update(REDIS_URL="", AUDIT_HEAD_FILE=str(tmp_path_factory.mktemp("h") / "heads"))
    with app.test_request_context():
        install_default_vocabulary()
        author = create_user(
            email="author@race.example", full_name="Rae Author", roles=["staff"],
            password="Correct-Horse-42!",
        )  # fmt: skip
        create_user(
            email="dsl@race.example", full_name="Dee Lead", roles=[Role.DSL.value],
            password="Correct-Horse-42!",
        )  # fmt: skip
        pupil = Pupil(
            upn="R000000000001", legal_first_name="Ida", legal_last_name="Race",
            date_of_birth=sa.func.date("2017-01-01"), year_group="3",
        )  # fmt: skip
        db.session.add(pupil)
        db.session.commit()
        category = db.session.scalar(sa.select(Category.id).where(Category.name == "Behaviour"))
        app.race = {"author": author.id, "pupil": pupil.id, "category": category}
    yield app
    with app.app_context():
        db.engine.dispose()
    database.close()


def _payload(app, client_uuid: str) -> dict:
    return {
        "uuid": client_uuid,
        "pupil_id": app.race["pupil"],
        "occurred_at": "2026-03-02T09:00:00+00:00",
        "account": "Pushed in the dinner queue.",
        "parents_contacted": "yes",
        "medical_attention": "not_needed",
        "category_ids": [app.race["category"]],
    }


def _send_together(app, uuids: list[str]) -> list:
    start = threading.Barrier(len(uuids))
    results: list = [None] * len(uuids)

    def send(index: int, client_uuid: str) -> None:
        with app.test_request_context():
            start.wait()
            try:
                receipt = submit_incident(
                    db.session.get(User, app.race["author"]), _payload(app, client_uuid)
                )
                db.session.commit()
                results[index] = receipt
            except Exception as error:  # noqa: BLE001 (reported by the assertion below)
                db.session.rollback()
                results[index] = error

    threads = [threading.Thread(target=send, args=item) for item in enumerate(uuids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_incidents_sent_at_once_get_gapless_numbers_and_one_chain(own_app):
    results = _send_together(own_app, [str(uuid.uuid4()) for _ in range(SENDERS)])
    assert not [r for r in results if isinstance(r, Exception)], results
    numbers = sorted(receipt.number for receipt in results)
    assert numbers == list(range(1001, 1001 + SENDERS))
    with own_app.app_context():
        report = verify_chain()
        assert report.first_bad_id is None and report.problem is None, report
        assert db.session.scalar(sa.select(sa.func.count(Incident.id))) == SENDERS


def test_the_same_uuid_sent_twice_at_once_makes_one_incident(own_app):
    same = str(uuid.uuid4())
    results = _send_together(own_app, [same, same, str(uuid.uuid4())])
    assert not [r for r in results if isinstance(r, Exception)], results
    twins = results[:2]
    assert sorted(receipt.created for receipt in twins) == [False, True]
    assert twins[0].number == twins[1].number
    with own_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Incident.id))) == 2
        assert verify_chain().first_bad_id is None
