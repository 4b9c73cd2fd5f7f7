"""Larkfield Primary School: a fictional demo school for trying Haven and for demonstrations.

Two classes in each year from Reception to Year 6, 30 pupils in each, and staff covering every
role. The roll and staff go through the same import functions as a real school's MIS export.
"""

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from server.auth.models import User
from server.auth.operations import set_password
from server.auth.roles import Role
from server.clock import school_today
from server.demo.incidents import seed_demo_incidents
from server.demo.names import FIRST_NAMES, PREFERRED_SURNAMES, SHORT_NAMES, SURNAMES
from server.extensions import db
from server.incidents.vocabulary import install_default_vocabulary
from server.pupils.models import Pupil
from server.pupils.pupil_import import import_pupils
from server.pupils.staff_import import import_staff
from server.pupils.upn import make_upn
from server.pupils.years import birth_window

SCHOOL_NAME = "Larkfield Primary School"
DOMAIN = "larkfield.example"
# Shared by every demo account; it passes the default password rule. Never use it for real.
DEMO_PASSWORD = "Kestrel-Lantern-84!"  # noqa: S105

CLASSES = [
    ("R", "R Oak"), ("R", "R Elm"), ("1", "1 Ash"), ("1", "1 Birch"),
    ("2", "2 Cedar"), ("2", "2 Hazel"), ("3", "3 Maple"), ("3", "3 Rowan"),
    ("4", "4 Willow"), ("4", "4 Holly"), ("5", "5 Beech"), ("5", "5 Alder"),
    ("6", "6 Larch"), ("6", "6 Yew"),
]  # fmt: skip
PUPILS_PER_CLASS = 30
# A fictional local authority and establishment number for the UPNs.
_LA_AND_SCHOOL = "9902468"


@dataclass(frozen=True)
class DemoStaff:
    first_name: str
    last_name: str
    job: str
    roles: tuple[Role, ...]
    classes: tuple[str, ...] = ()
    featured: bool = False  # listed in the printed sign-ins

    @property
    def email(self) -> str:
        return f"{_ascii(self.first_name)}.{_ascii(self.last_name)}@{DOMAIN}"


_T, _S = Role.CLASS_TEACHER, Role.STAFF
STAFF = [
    DemoStaff("Helen", "Adebayo", "Headteacher and DSL", (Role.DSL, Role.SLT), featured=True),
    DemoStaff("Tom", "Whitlock", "Deputy DSL, Year 6 teacher", (Role.DSL, _T), ("6 Larch",), True),
    DemoStaff("Samira", "Qureshi", "Pastoral manager", (Role.PASTORAL,), featured=True),
    DemoStaff("Gareth", "Lloyd", "Assistant head, Year 4", (Role.SLT, _T), ("4 Willow",), True),
    DemoStaff("Denise", "Pollard", "Office manager", (Role.ADMIN,), featured=True),
    DemoStaff("Freya", "Fenwick", "Reception teacher", (_T,), ("R Oak",), True),
    DemoStaff("Joanna", "Mbeki", "Reception teacher", (_T,), ("R Elm",)),
    DemoStaff("Daniel", "Kershaw", "Year 1 teacher", (_T,), ("1 Ash",)),
    DemoStaff("Anjali", "Nair", "Year 1 teacher", (_T,), ("1 Birch",)),
    DemoStaff("Ruth", "Gallagher", "Year 2 teacher", (_T,), ("2 Cedar",)),
    DemoStaff("Marcus", "Obi", "Year 2 teacher", (_T,), ("2 Hazel",)),
    DemoStaff("Eleanor", "Tse", "Year 3 teacher", (_T,), ("3 Maple",)),
    DemoStaff("Patrick", "Doyle", "Year 3 teacher", (_T,), ("3 Rowan",)),
    DemoStaff("Hannah", "Zielinski", "Year 4 teacher", (_T,), ("4 Holly",)),
    DemoStaff("Imran", "Siddiqui", "Year 5 teacher", (_T,), ("5 Beech",)),
    DemoStaff("Kerry", "Maddox", "Year 5 teacher", (_T,), ("5 Alder",)),
    DemoStaff("Bethany", "Carr", "Year 6 teacher", (_T,), ("6 Yew",)),
    DemoStaff("Joy", "Appiah", "Teaching assistant", (_S,), featured=True),
    DemoStaff("Martin", "Shaw", "Teaching assistant", (_S,)),
    DemoStaff("Agnieszka", "Lis", "Teaching assistant, pastoral", (_S, Role.PASTORAL)),
]


class DemoError(Exception):
    pass


@dataclass(frozen=True)
class SeedResult:
    staff: int
    classes: int
    pupils: int
    incidents: int
    vocabulary_installed: bool


def _ascii(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(char for char in plain.lower() if char.isalnum())


def database_has_people() -> bool:
    return bool(
        db.session.scalar(select(func.count(User.id)))
        or db.session.scalar(select(func.count(Pupil.id)))
    )


def seed_demo_school(*, if_empty: bool = False) -> SeedResult | None:
    """Create the demo school in an empty database. The caller commits.

    With `if_empty`, a database that already has users is left alone (returns None); without
    it, a database with anyone in it is refused, so a real school never gets fictional data.
    """
    if if_empty and db.session.scalar(select(func.count(User.id))):
        return None
    if database_has_people():
        raise DemoError(
            "This database already has staff or pupils: the demo school is only for an empty "
            "database. Use --if-empty to skip seeding quietly."
        )
    installed = install_default_vocabulary()
    pupils = import_pupils(demo_pupil_rows(school_today()), mark_leavers=False)
    staff = import_staff(demo_staff_rows())
    if not (pupils.ok and staff.ok):
        refused = [*pupils.refused, *staff.refused]
        raise DemoError(f"The demo data was refused: {refused[0].reason}")
    for person in STAFF:
        user = db.session.scalar(select(User).where(User.email == person.email))
        set_password(user, DEMO_PASSWORD)
    db.session.flush()
    incidents = seed_demo_incidents(DOMAIN)
    return SeedResult(len(staff.created), len(CLASSES), len(pupils.created), incidents, installed)


def demo_staff_rows() -> list[dict[str, str]]:
    return [
        {
            "Email": person.email,
            "First Name": person.first_name,
            "Last Name": person.last_name,
            "Roles": "; ".join(role.value for role in person.roles),
            "Classes": "; ".join(person.classes),
        }
        for person in STAFF
    ]


def demo_pupil_rows(today: date) -> list[dict[str, str]]:
    """Deterministic fictional pupils whose dates of birth fit their year group this year."""
    rng = random.Random(20_26)  # noqa: S311 - fictional data, not security
    used: set[tuple[str, str]] = set()
    serials: dict[str, int] = {}
    rows = []
    for year_group, class_name in CLASSES:
        first_born, last_born = birth_window(year_group, today)
        entry_year = f"{(first_born.year + 5) % 100:02d}"
        for _ in range(PUPILS_PER_CLASS):
            first, last = _fresh_name(rng, used)
            serials[entry_year] = serials.get(entry_year, 0) + 1
            born = first_born + timedelta(days=rng.randrange((last_born - first_born).days + 1))
            rows.append(
                {
                    "UPN": make_upn(f"{_LA_AND_SCHOOL}{entry_year}{serials[entry_year]:03d}"),
                    "Legal Forename": first,
                    "Legal Surname": last,
                    "Preferred Forename": _preferred_first(rng, first),
                    "Preferred Surname": rng.choice(PREFERRED_SURNAMES)
                    if rng.random() < 0.02
                    else "",
                    "Date of Birth": born.isoformat(),
                    "Year": year_group,
                    "Reg Group": class_name,
                }
            )
    return rows


def _fresh_name(rng: random.Random, used: set[tuple[str, str]]) -> tuple[str, str]:
    while True:
        name = (rng.choice(FIRST_NAMES), rng.choice(SURNAMES))
        if name not in used:
            used.add(name)
            return name


def _preferred_first(rng: random.Random, first: str) -> str:
    return SHORT_NAMES[first] if first in SHORT_NAMES and rng.random() < 0.7 else ""


def demo_sign_ins() -> list[tuple[str, str, str]]:
    """(email, roles, job) of the featured demo accounts present in this database."""
    featured = {person.email: person for person in STAFF if person.featured}
    users = db.session.scalars(select(User).where(User.email.in_(featured))).all()
    by_email = {user.email: user for user in users}
    return [
        (email, by_email[email].role_labels, person.job)
        for email, person in featured.items()
        if email in by_email
    ]


def demo_staff_count() -> int:
    emails = [person.email for person in STAFF]
    return db.session.scalar(select(func.count(User.id)).where(User.email.in_(emails))) or 0
