"""Unified social credit codes (统一社会信用代码, GB 32100-2015): normalising and check-digit validation."""

from __future__ import annotations

import unicodedata

# The 31 characters the standard uses: digits and capitals without I, O, Z, S and V.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18


def normalise_credit_code(raw: str) -> str:
    """Half-width, upper case, spaces and dashes removed: the form codes are stored and compared in."""
    text = unicodedata.normalize("NFKC", raw).upper()
    return "".join(ch for ch in text if not ch.isspace() and ch != "-")


def check_character(first17: str) -> str:
    """The 18th character the standard computes from the first 17."""
    total = sum(ALPHABET.index(ch) * weight for ch, weight in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid_credit_code(raw: str) -> bool:
    """Whether ``raw`` is an 18-character code over the standard's alphabet with the right check character."""
    code = normalise_credit_code(raw)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return False
    if not code[2:8].isdigit():  # the administrative division code is always six digits
        return False
    return check_character(code[:17]) == code[17]
