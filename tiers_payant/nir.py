"""NIR (numéro de sécurité sociale) rules: structure, mod-97 key, masking. Pure.

Layout (15 characters, no spaces): sex(1) year(2) month(2) department(2) commune(3)
order(3) key(2). Overseas departments 97x/98x take the first commune digit, leaving a
2-digit commune; 99 means born abroad (the commune field is then a country code).
Key = 97 - (13-digit body mod 97), with Corsica's 2A/2B read as 19/18.

Only the compact 15-character form is accepted: callers strip separators at the edge,
so the core never guesses. Messages never echo digits, so they are safe to log.
"""
from __future__ import annotations

_CORSICA = {"2A": "19", "2B": "18"}
_SEXES = "1278"  # 7 and 8: temporary numbers (NIA)
_DIGITS = frozenset("0123456789")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # isdigit alone accepts "²" or Arabic-Indic digits


def _month_ok(month: int) -> bool:
    # 20-42 and 50-99 stand for incomplete civil records; 13-19 and 43-49 are unused.
    return 1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99


def _numeric(body13: str) -> str:
    return body13[:5] + _CORSICA.get(body13[5:7], body13[5:7]) + body13[7:]


def nir_key(body13: str) -> int:
    """The two-digit key (1..97) of a 13-character body; ValueError if the body is malformed."""
    if len(body13) != 13:
        raise ValueError("a NIR body has 13 characters")
    digits = _numeric(body13)
    if not _digits(digits):
        raise ValueError("a NIR body has digits only, except 2A/2B as department")
    return 97 - int(digits) % 97


def nir_error(nir: str) -> str | None:
    """None when `nir` is a valid NIR, else a short human message (with no digits echoed)."""
    if not isinstance(nir, str):
        return "NIR must be a string"
    hint = nir_hint(nir)
    if hint:
        return hint
    if len(nir) != 15:
        return f"NIR must have 15 characters, got {len(nir)}"
    for pos, char in enumerate(nir):
        if char not in _DIGITS and not (pos in (5, 6) and nir[5:7] in _CORSICA):
            return f"NIR has a character that is not allowed at position {pos + 1}"
    if nir[0] not in _SEXES:
        return "NIR sex digit must be 1, 2, 7 or 8"
    if not _month_ok(int(nir[3:5])):
        return "NIR birth month must be 01-12, 20-42 or 50-99"
    if nir[5:7] == "00":
        return "NIR department does not exist"
    key = int(nir[13:])
    if not 1 <= key <= 97 or key != nir_key(nir[:13]):
        return "NIR key does not match (mistyped number?)"
    return None


def nir_hint(nir: str) -> str | None:
    """The mistakes people typically make when copying a NIR from a card or a form."""
    if any(c in nir for c in " .-\u00a0"):
        return ("NIR must be written without spaces, dots or dashes: the 15 characters as one string "
                "(e.g. 185057800608491)")
    if len(nir) == 15 and nir[5:7] in ("2a", "2b"):
        return "NIR: Corsica's departments are written 2A and 2B, in capitals"
    if len(nir) == 13 and nir.isascii() and nir.isalnum():
        return "NIR must have 15 characters: the 13 of the number and its 2-digit key"
    return None


def is_valid_nir(nir: str) -> bool:
    return nir_error(nir) is None


def make_nir(sex: int, birth_year: int, birth_month: int, dept: str, commune: str, order: int) -> str:
    """Build a valid NIR; ValueError on parts that cannot make one.

    `dept` is "01".."99", "2A" or "2B" (99: born abroad, `commune` is then the country
    code), or 3 digits "97x"/"98x" for overseas, then `commune` has 2 digits (else 3).
    `birth_year` may be the full year: only its last two digits are kept.
    """
    if isinstance(sex, bool) or sex not in (1, 2, 7, 8):
        raise ValueError("sex must be 1, 2, 7 or 8")
    if not (isinstance(birth_month, int) and _month_ok(birth_month)):
        raise ValueError("birth month must be 1-12, 20-42 or 50-99")
    place = dept + commune
    if len(dept) == 3 and dept[:2] not in ("97", "98"):
        raise ValueError("only overseas departments (97x, 98x) have 3 digits")
    if len(dept) not in (2, 3) or len(place) != 5 or dept == "00":
        raise ValueError("department and commune must make 5 characters (2+3 or 97x/98x + 2)")
    if not (_digits(place) or dept in _CORSICA and _digits(commune)):
        raise ValueError("department and commune are digits (department 2A or 2B excepted)")
    if not 1 <= order <= 999:
        raise ValueError("order must be 1..999")
    body = f"{sex}{birth_year % 100:02d}{birth_month:02d}{place}{order:03d}"
    return body + f"{97 - int(_numeric(body)) % 97:02d}"


def mask_nir(nir: str) -> str:
    """The form allowed in logs: the sex digit and 14 stars."""
    return str(nir)[:1] + "*" * 14
