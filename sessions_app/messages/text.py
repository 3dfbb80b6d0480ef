"""When a text says nothing: only spaces, line breaks and characters that draw nothing.

Such a text would reach the chat as an empty bubble, so it is refused like an empty one
(400 `text_required`).
"""

from __future__ import annotations

import unicodedata

# Categories that never draw a glyph: separators (spaces), controls and format characters
# (zero-width space, joiners, directional marks, the BOM, tags).
_BLANK_CATEGORIES = {"Zs", "Zl", "Zp", "Cc", "Cf"}
# Characters of other categories that draw nothing: the Hangul fillers and the combining
# grapheme joiner, Khmer's inherent vowels and the variation selectors are Default_Ignorable_Code_
# Point in Unicode's DerivedCoreProperties.txt; the braille blank (U+2800) is a symbol without dots.
_BLANK_CHARACTERS = frozenset(
    "\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5\u2800" + "".join(map(chr, range(0xFE00, 0xFE10)))
)


def is_blank_text(text: str) -> bool:
    """Tell whether `text` has nothing that draws on a screen (empty counts as blank)."""
    return all(
        char in _BLANK_CHARACTERS or unicodedata.category(char) in _BLANK_CATEGORIES
        for char in text
    )
