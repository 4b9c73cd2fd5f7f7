"""The default categories and agencies of SPEC §2, installed once and then admin-editable."""

from sqlalchemy import select
from sqlalchemy.orm import selectinload

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


def is_family_heading(category: Category) -> bool:
    """A family with sub-categories in use (Safeguarding, Cause for concern) is a heading: an
    incident is about one of its kinds, which is what is chosen."""
    return any(child.active for child in category.children)


def choosable_categories() -> list[Category]:
    """The categories an incident can be given, family by family in the form's order: the
    active ones that are not family headings."""
    active = db.session.scalars(
        select(Category)
        .where(Category.active.is_(True))
        .options(selectinload(Category.parent), selectinload(Category.children))
    ).all()
    return sorted((c for c in active if not is_family_heading(c)), key=_form_order)


def _form_order(category: Category) -> tuple:
    family = category.parent or category
    own = -1 if category.parent is None else category.position
    return (family.position, family.name, own, category.name)
