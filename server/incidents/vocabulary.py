"""The default categories and agencies of SPEC §2, installed once and then admin-editable."""

from sqlalchemy import select

from server.extensions import db
from server.incidents.models import Agency, Category

# (family, children, sensitive-and-dsl-only)
DEFAULT_CATEGORIES: list[tuple[str, list[str], bool]] = [
    ("Attendance", [], False),
    ("Behaviour", [], False),
    ("Bullying", [], False),
    ("Cause for concern", ["General", "Safeguarding disclosure"], False),
    ("Family circumstances", [], False),
    ("Medical / first aid", [], False),
    ("Parental contact", [], False),
    ("Online safety", [], False),
    ("SEND", [], False),
    (
        "Safeguarding",
        [
            "Child protection",
            "Child in need",
            "Neglect",
            "Physical abuse",
            "Emotional abuse",
            "Sexual abuse",
            "Domestic abuse",
            "Child-on-child abuse",
            "Prevent",
            "FGM",
            "Exploitation",
        ],
        True,
    ),
]

DEFAULT_AGENCIES = [
    "Children's social care / MASH",
    "Police",
    "Early Help",
    "School nurse",
    "CAMHS",
    "GP",
    "Educational psychologist",
    "Young carers service",
    "Local authority designated officer (LADO)",
]


def install_default_vocabulary() -> bool:
    """Add the defaults if the school has no categories yet. Returns whether it added them."""
    if db.session.scalar(select(Category.id).limit(1)) is not None:
        return False
    for position, (family, children, sensitive) in enumerate(DEFAULT_CATEGORIES):
        parent = Category(name=family, sensitive=sensitive, dsl_only=sensitive, position=position)
        db.session.add(parent)
        for child_position, child in enumerate(children):
            db.session.add(
                Category(
                    name=child,
                    parent=parent,
                    sensitive=sensitive,
                    dsl_only=sensitive,
                    position=child_position,
                )
            )
    for position, name in enumerate(DEFAULT_AGENCIES):
        db.session.add(Agency(name=name, position=position))
    db.session.flush()
    return True
