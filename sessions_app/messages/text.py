"""When a text says nothing: only spaces, line breaks and characters that draw nothing.

Such a text would reach the chat as an empty bubble, so it is refused like an empty one
(400 `text_required`).
"""

from __future__ import annotations

import unicodedata

# Categories that never draw a glyph: separators (spaces), controls and format characters
# (zero-width space, joiners, directional marks, the BOM, tags).
_BLANK_CATEGORIES = {"Zs", "Zl", "Zp", "Cc", "Cf"}
# Characters of other categories that draw nothing: those of Unicode's Default_Ignorable_Code_Point
# (DerivedCoreProperties.txt) that are not format characters — the combining grapheme joiner,
# the Hangul fillers, Khmer's inherent vowels, the Mongolian free variation selectors, the
# variation selectors and their supplement — and the braille blank (U+2800, a cell without dots).
_BLANK_CHARACTERS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)


def is_blank_text(text: str) -> bool:
    """Tell whether `text` has nothing that draws on a screen (empty counts as blank)."""
    return all(
        char in _BLANK_CHARACTERS or unicodedata.category(char) in _BLANK_CATEGORIES
        for char in text
    )
