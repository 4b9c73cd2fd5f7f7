"""The focus ring stands out by at least 3:1 from every background in Haven's stylesheets
(WCAG 1.4.11 and 2.4.13): the ring is two-tone, so one of its two colours must do it.

Colours are read from the stylesheets themselves, so a new background added later is checked
too. Translucent backgrounds are laid over both the page's light and dark (banner) colours.
"""

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parent.parent / "pwa" / "css"
HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
RGBA = re.compile(r"rgba\(\s*(\d+),\s*(\d+),\s*(\d+),\s*([\d.]+)\s*\)")


def _variables() -> dict[str, str]:
    text = (CSS / "haven.css").read_text()
    return dict(re.findall(r"(--[\w-]+):\s*([^;]+);", text))


def _rgb(value: str) -> tuple[float, float, float]:
    digits = HEX.fullmatch(value.strip()).group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))


def _luminance(rgb) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _backgrounds() -> dict[str, tuple]:
    """Every background colour any stylesheet paints, by how it is written."""
    variables = _variables()
    found: dict[str, tuple] = {}
    for sheet in sorted(CSS.glob("*.css")):
        for value in re.findall(r"background(?:-color)?:\s*([^;}]+)", sheet.read_text()):
            value = value.strip()
            if value.startswith("var("):
                value = variables[value[4:-1]]
            if HEX.fullmatch(value):
                found[value] = _rgb(value)
            elif match := RGBA.fullmatch(value):
                *colour, alpha = (float(part) for part in match.groups())
                for under_name in ("--card", "--brand"):
                    under = _rgb(variables[under_name])
                    mixed = tuple(
                        alpha * c + (1 - alpha) * u for c, u in zip(colour, under, strict=True)
                    )
                    found[f"{value} over {under_name}"] = mixed
    return found


FOCUS = _rgb(_variables()["--focus"])
FOCUS_INK = _rgb(_variables()["--focus-ink"])


def test_the_stylesheets_paint_the_backgrounds_this_test_expects():
    backgrounds = _backgrounds()
    assert len(backgrounds) >= 15
    # The white page, the banner and the blank screen are the ones people meet most.
    assert {(255, 255, 255), _rgb(_variables()["--brand"]), (0, 0, 0)} <= set(backgrounds.values())


def test_the_ring_draws_two_colours_on_focus():
    rule = re.search(r":focus-visible \{([^}]*)\}", (CSS / "haven.css").read_text()).group(1)
    assert "var(--focus)" in rule and "var(--focus-ink)" in rule
    assert contrast(FOCUS, FOCUS_INK) >= 3


@pytest.mark.parametrize("name, background", sorted(_backgrounds().items()))
def test_the_focus_ring_stands_out_from(name, background):
    best = max(contrast(FOCUS, background), contrast(FOCUS_INK, background))
    assert best >= 3, f"focus ring on {name}: {best:.2f}:1"


def test_the_old_yellow_alone_did_not_on_white():
    # The reason for the dark half of the ring: yellow alone on white is 1.64:1.
    assert round(contrast(FOCUS, (255, 255, 255)), 2) == 1.64
