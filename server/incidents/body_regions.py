"""Where on the body a body-map mark is, in words ("left forearm, front").

The outline (pwa/js/body-map.js, templates/incidents/_body_map.html) is 200 × 420 units; marks
are stored as fractions of that. Each region is a box on the outline with a centre that lies on
the body (where choosing the region from a list puts the mark). Only the viewer's left half is
described here: the right half is its mirror image. From the front the viewer's left is the
child's right; from the back it is the child's left.

The same table is in pwa/js/body-regions.js for the form (tests/test_body_regions.py keeps the
two equal), so the form and the record always name a mark's place the same way.
"""

from dataclasses import dataclass

WIDTH = 200
HEIGHT = 420
SIDES = ("front", "back")

# (key, front name, back name, box (x0, y0, x1, y1) on the viewer's left, centre (x, y)), from
# head to foot: the order of the list people choose from. "{lr}" is the child's left or right;
# a region without it lies across the middle line.
_TABLE = [
    ("head", "head", "back of head", (72, 6, 128, 62), (100, 36)),
    ("neck", "neck", "back of neck", (86, 62, 114, 80), (100, 70)),
    ("shoulder", "{lr} shoulder", "{lr} shoulder", (40, 78, 66, 108), (54, 94)),
    ("upper-arm", "{lr} upper arm", "{lr} upper arm", (32, 108, 64, 165), (46, 138)),
    ("forearm", "{lr} forearm", "{lr} forearm", (24, 165, 58, 226), (40, 196)),
    ("hand", "{lr} hand", "{lr} hand", (20, 226, 48, 254), (34, 240)),
    ("chest", "{lr} chest", "{lr} upper back", (66, 80, 100, 150), (82, 115)),
    ("abdomen", "{lr} abdomen", "{lr} lower back", (64, 150, 100, 198), (82, 174)),
    ("pelvis", "groin", "buttocks", (64, 198, 136, 222), (100, 210)),
    ("thigh", "{lr} thigh", "back of {lr} thigh", (66, 222, 100, 288), (85, 255)),
    ("knee", "{lr} knee", "back of {lr} knee", (66, 288, 100, 318), (84, 303)),
    ("lower-leg", "{lr} shin", "{lr} calf", (66, 318, 100, 388), (83, 352)),
    ("foot", "{lr} foot", "{lr} heel", (60, 388, 100, 414), (80, 400)),
]


@dataclass(frozen=True)
class Region:
    key: str  # unique on its side, e.g. "left-forearm"
    side: str
    label: str  # "left forearm, front"
    box: tuple[float, float, float, float]
    centre: tuple[float, float]

    def as_json(self) -> dict:
        return {"key": self.key, "label": self.label, "box": list(self.box),
                "centre": list(self.centre)}  # fmt: skip


def _label(name: str, side: str) -> str:
    # "left upper back" says the side already; "left forearm" needs ", front".
    return name if side in name else f"{name}, {side}"


def _mirror(box, centre):
    x0, y0, x1, y1 = box
    return (WIDTH - x1, y0, WIDTH - x0, y1), (WIDTH - centre[0], centre[1])


def _regions(side: str) -> list[Region]:
    # From the front the viewer's left half is the child's right.
    viewer_left, viewer_right = ("right", "left") if side == "front" else ("left", "right")
    found = []
    for key, front, back, box, centre in _TABLE:
        name = front if side == "front" else back
        if "{lr}" not in name:
            found.append(Region(key, side, _label(name, side), box, centre))
            continue
        mirrored_box, mirrored_centre = _mirror(box, centre)
        for lr, its_box, its_centre in (
            (viewer_left, box, centre),
            (viewer_right, mirrored_box, mirrored_centre),
        ):
            label = _label(name.format(lr=lr), side)
            found.append(Region(f"{lr}-{key}", side, label, its_box, its_centre))
    return found


REGIONS: dict[str, list[Region]] = {side: _regions(side) for side in SIDES}


def _distance(box, x: float, y: float) -> float:
    x0, y0, x1, y1 = box
    dx = max(x0 - x, 0, x - x1)
    dy = max(y0 - y, 0, y - y1)
    return (dx * dx + dy * dy) ** 0.5


def region_at(side: str, x: float, y: float) -> Region:
    """The region a mark at (x, y), fractions of the outline, falls in, or the nearest one
    (a tap just beside an arm is about that arm). Ties go to the first listed."""
    ux, uy = x * WIDTH, y * HEIGHT
    return min(REGIONS[side], key=lambda region: _distance(region.box, ux, uy))


def region_label(side: str, x: float, y: float) -> str:
    return region_at(side, x, y).label


def regions_as_json() -> dict[str, list[dict]]:
    return {side: [region.as_json() for region in regions] for side, regions in REGIONS.items()}
