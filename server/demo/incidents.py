"""A few weeks of fictional concerns at Larkfield, so a demo shows a DSL's real working day.

Without them a new installation's workspace, chronology and reports are empty and say nothing
about what Haven is for. Each story goes through the same domain functions as a member of staff
(submission, actions, status changes), so alerts, the audit chain and numbering are all real.
Every name and event is invented.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from server.auth.models import User
from server.clock import utcnow
from server.extensions import db
from server.incidents.models import Agency, Category, Incident
from server.incidents.operations import add_action, change_status
from server.incidents.submission import submit_incident
from server.pupils.models import Pupil, SchoolClass


@dataclass(frozen=True)
class DemoAction:
    author: str  # email local part at the demo domain
    text: str


@dataclass(frozen=True)
class DemoStory:
    class_name: str
    pupil_index: int  # which pupil of the class, in roll order
    author: str
    days_ago: int
    hour: int
    categories: tuple[str, ...]
    location: str
    account: str
    urgent: bool = False
    medical: str = "not_needed"
    body_marks: tuple[dict, ...] = ()
    agencies: tuple[str, ...] = ()  # names starting with these
    linked: tuple[tuple[str, int], ...] = ()  # (class, index) of other pupils involved
    actions: tuple[DemoAction, ...] = ()
    status: tuple[str, str] | None = None  # (kind, note), by the DSL
    extra: dict = field(default_factory=dict)


DSL = "helen.adebayo"
DEPUTY = "tom.whitlock"
STORIES = [
    DemoStory(
        "2 Cedar",
        3,
        "ruth.gallagher",
        19,
        9,
        ("Cause for concern – General",),
        "Classroom",
        "Arrived without a coat again in the rain and said he had not had breakfast. Ate two "
        "pieces of toast at breakfast club and settled well after.",
        actions=(
            DemoAction(
                DSL,
                "Spoke to mum at pick-up. Money is tight since the move; she has "
                "accepted a free breakfast club place and the coat from lost property.",
            ),
        ),
        status=("monitoring", "Watch for a pattern over the next half term."),
    ),
    DemoStory(
        "2 Cedar",
        3,
        "martin.shaw",
        6,
        12,
        ("Cause for concern – General",),
        "Lunch hall",
        "Hid a bread roll in his book bag at lunch. When asked he said it was for later because "
        "there is no tea at home on Thursdays.",
        actions=(
            DemoAction(
                DSL,
                "Added to the chronology review for Friday; early help "
                "assessment to be discussed with mum.",
            ),
        ),
    ),
    DemoStory(
        "5 Beech",
        7,
        "imran.siddiqui",
        12,
        13,
        ("Medical / first aid",),
        "Playground",
        "Fell running on the field and grazed her right knee. Cleaned and dressed by the first "
        "aider; no other injury.",
        body_marks=({"side": "front", "x": 0.56, "y": 0.74, "kind": "cut", "note": "Graze"},),
        status=("no_further_action", "Accidental; first aid given and parent told."),
    ),
    DemoStory(
        "6 Larch",
        4,
        DEPUTY,
        9,
        10,
        ("Online safety", "Cause for concern – Safeguarding disclosure"),
        "Year 6 classroom",
        "Said an older boy she met in a game has been asking her to send photos and to keep it "
        "secret. She showed me the messages on her tablet. I reassured her she had done the "
        "right thing in telling.",
        urgent=True,
        agencies=("Children", "Police"),
        actions=(
            DemoAction(
                DSL,
                "Referred to children's social care (MASH) by phone at 11.05 and "
                "confirmed in writing; police informed. Parents told with MASH's "
                "agreement.",
            ),
            DemoAction(
                DEPUTY,
                "Online safety session with the class planned; tablet kept at "
                "home by agreement with parents.",
            ),
        ),
        status=("monitoring", "Awaiting the strategy meeting outcome."),
    ),
    DemoStory(
        "4 Willow",
        11,
        "gareth.lloyd",
        4,
        15,
        ("Bullying",),
        "Cloakroom",
        "Came in upset after lunch: two children in her class have been taking her hat and "
        "calling her names about her hearing aids since half term.",
        linked=(("4 Willow", 15),),
        actions=(
            DemoAction(
                "samira.qureshi",
                "Met both children separately; restorative conversation arranged for Monday.",
            ),
        ),
    ),
    DemoStory(
        "R Oak",
        8,
        "freya.fenwick",
        3,
        8,
        ("Family circumstances",),
        "Classroom door",
        "Mum told me at drop-off that his grandad died at the weekend. He may be tearful; "
        "the family would like us to let him talk about it if he wants to.",
    ),
    DemoStory(
        "3 Maple",
        20,
        "joy.appiah",
        1,
        14,
        ("Cause for concern – General",),
        "Reading corner",
        'Flinched when I reached past him for a book and then said "sorry, sorry" several '
        "times. Has been quiet all week.",
    ),
    DemoStory(
        "1 Ash",
        2,
        "samira.qureshi",
        2,
        9,
        ("Attendance",),
        "Office",
        "Third day absent with no call from home; phone numbers not answering. Home visit "
        "needed if no contact by noon.",
        urgent=True,
    ),
]


def seed_demo_incidents(domain: str) -> int:
    """Record the demo stories (the caller commits). Returns how many were recorded."""
    categories = {each.full_name: each.id for each in db.session.scalars(select(Category))}
    agencies = list(db.session.scalars(select(Agency).order_by(Agency.id)))
    now = utcnow().replace(second=0, microsecond=0)

    def staff(local_part: str) -> User:
        return db.session.scalars(select(User).where(User.email == f"{local_part}@{domain}")).one()

    for story in STORIES:
        receipt = submit_incident(staff(story.author), _payload(story, categories, agencies, now))
        incident = db.session.get(Incident, receipt.id)
        for action in story.actions:
            add_action(staff(action.author), incident, action.text)
        if story.status:
            kind, note = story.status
            change_status(staff(DSL), incident, kind, note)
    db.session.flush()
    return len(STORIES)


def _payload(story: DemoStory, categories, agencies, now: datetime) -> dict:
    occurred = (now - timedelta(days=story.days_ago)).replace(hour=story.hour, minute=20)
    occurred = min(occurred, now - timedelta(minutes=5))
    return {
        "uuid": str(uuid.uuid4()),
        "pupil_id": _pupil(story.class_name, story.pupil_index).id,
        "occurred_at": occurred.isoformat(),
        "location": story.location,
        "account": story.account,
        "parents_contacted": "yes",
        "medical_attention": story.medical,
        "category_ids": [categories[name] for name in story.categories],
        "body_marks": list(story.body_marks),
        "agency_ids": [
            next(agency.id for agency in agencies if agency.name.startswith(prefix))
            for prefix in story.agencies
        ],
        "linked_pupil_ids": [_pupil(name, index).id for name, index in story.linked],
        "urgent": story.urgent,
    }


def _pupil(class_name: str, index: int) -> Pupil:
    roll = select(Pupil).join(SchoolClass).where(SchoolClass.name == class_name).order_by(Pupil.id)
    return db.session.scalars(roll.offset(index).limit(1)).one()
