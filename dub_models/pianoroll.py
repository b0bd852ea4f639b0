"""A piano-roll picture of transcribed notes, coloured by instrument family, drums in their own
lane below the keyboard range. PIL only; notes in, RGB array out."""

from __future__ import annotations

import colorsys

import numpy as np

from dub_dataset.constants import DRUM_CLASSES, DRUM_CLASS_OF_NOTE, GM_FAMILIES, PROGRAMS_PER_FAMILY

from .notes import NoteEvent


def family_colour(family: str) -> tuple[int, int, int]:
    """A fixed, distinct colour per GM family (drums: dark grey)."""
    if family == "drums":
        return (60, 60, 60)
    i = GM_FAMILIES.index(family)
    r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.75, 0.85)
    return int(r * 255), int(g * 255), int(b * 255)


def piano_roll(notes: list[NoteEvent], duration_s: float | None = None, width: int = 1200,
               row_px: int = 4, drum_row_px: int = 10) -> np.ndarray:
    """RGB image [height, width, 3]: pitched notes on rows (low at the bottom, only the range used),
    one row per coarse drum class below them, a legend of the families present at the top."""
    from PIL import Image, ImageDraw

    pitched = [n for n in notes if not n.is_drum]
    drums = [n for n in notes if n.is_drum]
    end = max([duration_s or 0.0] + [n.offset_s for n in notes] + [1.0])
    lo = min([n.pitch for n in pitched], default=48) - 2
    hi = max([n.pitch for n in pitched], default=72) + 2
    legend_h, left = 22, 44
    roll_h = (hi - lo + 1) * row_px
    drum_h = len(DRUM_CLASSES) * drum_row_px if drums else 0
    img = Image.new("RGB", (width, legend_h + roll_h + drum_h + 20), "white")
    d = ImageDraw.Draw(img)
    xs = (width - left - 4) / end

    def x(t):
        return left + t * xs

    for p in range(lo, hi + 1):  # black keys shaded, C labelled
        y = legend_h + (hi - p) * row_px
        if p % 12 in (1, 3, 6, 8, 10):
            d.rectangle([left, y, width - 4, y + row_px - 1], fill=(242, 242, 246))
        if p % 12 == 0:
            d.text((2, y - 5), f"C{p // 12 - 1}", fill="black")
            d.line([left, y + row_px - 1, width - 4, y + row_px - 1], fill=(215, 215, 225))
    families = []
    for n in pitched:
        fam = GM_FAMILIES[n.program // PROGRAMS_PER_FAMILY]
        if fam not in families:
            families.append(fam)
        y = legend_h + (hi - n.pitch) * row_px
        shade = 0.45 + 0.55 * n.velocity / 127
        c = tuple(int(255 - (255 - v) * shade) for v in family_colour(fam))
        d.rectangle([x(n.onset_s), y, max(x(n.onset_s) + 1, x(n.offset_s)), y + row_px - 1], fill=c)
    if drums:
        top = legend_h + roll_h
        for k, name in enumerate(DRUM_CLASSES):
            y = top + k * drum_row_px
            if k % 2 == 0:
                d.rectangle([left, y, width - 4, y + drum_row_px - 1], fill=(238, 238, 238))
        d.text((2, top), "drums", fill="black")
        for n in drums:
            k = DRUM_CLASSES.index(DRUM_CLASS_OF_NOTE.get(n.pitch, "other_percussion"))
            y = top + k * drum_row_px
            d.rectangle([x(n.onset_s), y + 1, x(n.onset_s) + 3, y + drum_row_px - 2], fill=family_colour("drums"))
        families.append("drums")
    lx = left
    for fam in families:  # legend
        d.rectangle([lx, 6, lx + 10, 16], fill=family_colour(fam))
        d.text((lx + 14, 5), fam, fill="black")
        lx += 20 + 7 * len(fam)
    for s in range(0, int(end) + 1, max(1, int(end // 10) or 1)):  # seconds along the bottom
        d.text((x(s), img.height - 14), f"{s}s", fill="black")
    return np.asarray(img)
