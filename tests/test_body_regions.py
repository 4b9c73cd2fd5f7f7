"""Body-map marks named by region ("left forearm, front"): the table, the same in the form's
script as on the server, and the name shown wherever a recorded mark is shown."""

import json
import re
from pathlib import Path

import pytest

from server.incidents.body_regions import REGIONS, SIDES, region_at, region_label, regions_as_json

SCRIPT = Path(__file__).resolve().parent.parent / "pwa" / "js" / "body-regions.js"


def test_the_form_script_has_the_same_regions_as_the_server():
    text = SCRIPT.read_text()
    table = re.search(r"export const REGIONS = (\{.*?\n\});", text, re.S).group(1)
    assert json.loads(table) == regions_as_json()


@pytest.mark.parametrize(
    "side, x, y, label",
    [
        # From the front the child's left arm is on the viewer's right.
        ("front", 0.8, 0.4, "left forearm, front"),
        ("front", 0.2, 0.4, "right forearm, front"),
        ("back", 0.2, 0.4, "left forearm, back"),
        ("front", 0.42, 0.72, "right knee, front"),
        ("back", 0.42, 0.72, "back of left knee"),
        ("front", 0.5, 0.08, "head, front"),
        ("back", 0.5, 0.08, "back of head"),
        ("back", 0.6, 0.3, "right upper back"),
        ("front", 0.6, 0.95, "left foot, front"),
        ("back", 0.4, 0.84, "left calf, back"),
    ],
)
def test_a_mark_is_named_by_where_it_is(side, x, y, label):
    assert region_label(side, x, y) == label


def test_a_mark_beside_the_body_is_named_by_the_nearest_region():
    # Just outside the right arm from the front, and far off in a corner.
    assert region_label("front", 0.08, 0.45) == "right forearm, front"
    assert region_label("front", 0.0, 1.0) == "right foot, front"


@pytest.mark.parametrize("side", SIDES)
def test_every_region_centre_lies_in_its_own_region(side):
    labels = [region.label for region in REGIONS[side]]
    assert len(set(labels)) == len(labels) == 23
    for region in REGIONS[side]:
        x, y = region.centre
        assert region_at(side, x / 200, y / 420) == region
