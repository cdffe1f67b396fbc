"""The 18-character unified social credit code (统一社会信用代码, GB 32100-2015) that identifies an enterprise.

Layout (1-based positions):

    1      registration authority code (登记管理部门代码), e.g. 9 = market regulation (工商)
    2      organisation type code (机构类别代码), meaning depends on the authority, e.g. 91 = enterprise
    3-8    administrative division code of the registering authority (GB/T 2260), e.g. 330106
    9-17   organisation code (组织机构代码, GB 11714): 8 body characters + its own check character
    18     check character of the whole code

Every position uses the 31-character set 0-9 and A-Z without I, O, Z, S, V (confusable with 1, 0, 2, 5, U).
The whole-code check character uses weights 3^(i-1) mod 31; the organisation code check character uses the
GB 11714 weights (3, 7, 9, 10, 5, 8, 4, 2) modulo 11, written as 0-9 or X.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import numpy as np

from errors import InvalidInput

CODE_LENGTH = 18
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CHAR_VALUE: Mapping[str, int] = {c: i for i, c in enumerate(CHARSET)}
# GB 32100-2015: weight of position i (1-based) is 3^(i-1) mod 31.
WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(CODE_LENGTH - 1))
# GB 11714-1997: weights of the 8 organisation-code body characters; characters are valued 0-9, A=10 ... Z=35.
ORG_CODE_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)

# GB 32100-2015 appendix: registration authority -> allowed organisation type codes.
ORGANISATION_TYPES: Mapping[str, frozenset[str]] = {
    "1": frozenset("1239"),  # 机构编制: organs, public institutions, mass organisations, other
    "2": frozenset("19"),  # 外交: resident foreign news agencies, other
    "3": frozenset("1234569"),  # 司法行政: law firms, notaries, legal service, forensics, arbitration, other
    "4": frozenset("19"),  # 文化: foreign cultural centres, other
    "5": frozenset("1239"),  # 民政: social groups, private non-enterprise units, foundations, other
    "6": frozenset("129"),  # 旅游: foreign / HK-Macao-Taiwan tourism offices, other
    "7": frozenset("129"),  # 宗教: venues, colleges, other
    "8": frozenset("19"),  # 工会: grassroots unions, other
    "9": frozenset("123"),  # 工商: enterprises, individual businesses, farmers' cooperatives
    "A": frozenset("19"),  # 中央军委改革和编制办公室: military public institutions, other
    "N": frozenset("1239"),  # 农业: group-, village-, township-level collective economic organisations, other
    "Y": frozenset("1"),  # other registration authorities
}

# GB/T 2260 province-level prefixes; "100000" is used by central-level registration authorities.
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
CENTRAL_DIVISION = "100000"

# A few district codes of one city (Hangzhou, 3301xx) used when the caller names no district.
DEFAULT_DISTRICTS: tuple[str, ...] = ("330102", "330105", "330106", "330108", "330109", "330110")


class InvalidCreditCode(InvalidInput):
    """A string is not a valid unified social credit code; `reason` says which rule it breaks, naming the
    offending characters; `public_reason` says the same without repeating any of them (for answers to the
    party that submitted the code)."""

    def __init__(self, code: object, reason: str, public_reason: str | None = None) -> None:
        super().__init__(f"invalid unified social credit code {code!r}: {reason}")
        self.code = code
        self.reason = reason
        self.public_reason = public_reason or reason


def check_character(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters (which must be in CHARSET)."""
    total = sum(CHAR_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def organisation_check_character(body8: str) -> str:
    """Return the GB 11714 check character ('0'-'9' or 'X') for an 8-character organisation code body."""
    total = sum(int(c, 36) * w for c, w in zip(body8, ORG_CODE_WEIGHTS, strict=True))
    value = (11 - total % 11) % 11
    return "X" if value == 10 else str(value)


def validate_credit_code(code: object, *, check_organisation_code: bool = True) -> None:
    """Raise InvalidCreditCode unless `code` is a well-formed 18-character code with both check characters right.

    `check_organisation_code=False` skips only the GB 11714 check of positions 9-17 (some legacy registrations
    carry organisation codes that fail it); the whole-code check character is always verified.
    """
    if not isinstance(code, str):
        raise InvalidCreditCode(code, f"expected a string, got {type(code).__name__}")
    if len(code) != CODE_LENGTH:
        raise InvalidCreditCode(code, f"length is {len(code)}, expected {CODE_LENGTH} characters")
    for position, c in enumerate(code, start=1):
        if c in CHAR_VALUE:
            continue
        if c.isascii() and c.islower():
            rule = "{}at position {}; codes are written in uppercase"
            reason, public = (rule.format(f"lowercase letter {c!r} ", position),
                              rule.format("lowercase letter ", position))
        elif c in "IOZSV":
            rule = "{}at position {} is excluded (I, O, Z, S, V are never used)"
            reason, public = rule.format(f"letter {c!r} ", position), rule.format("letter ", position)
        else:
            rule = "{}at position {} is not allowed (digits and A-Z except I, O, Z, S, V)"
            reason, public = rule.format(f"character {c!r} ", position), rule.format("character ", position)
        raise InvalidCreditCode(code, reason, public)
    authority, org_type, division = code[0], code[1], code[2:8]
    if authority not in ORGANISATION_TYPES:
        raise InvalidCreditCode(code, f"unknown registration authority code {authority!r} at position 1",
                                "unknown registration authority code at position 1")
    if org_type not in ORGANISATION_TYPES[authority]:
        raise InvalidCreditCode(
            code, f"organisation type {org_type!r} at position 2 is not defined for authority {authority!r}",
            "organisation type at position 2 is not defined for the authority at position 1",
        )
    if not division.isdigit():
        raise InvalidCreditCode(code, f"administrative division code {division!r} (positions 3-8) is not 6 digits",
                                "administrative division code (positions 3-8) is not 6 digits")
    if division != CENTRAL_DIVISION and division[:2] not in PROVINCE_PREFIXES:
        raise InvalidCreditCode(code, f"administrative division code {division!r} has no known province prefix",
                                "administrative division code (positions 3-8) has no known province prefix")
    if check_organisation_code:
        expected_org = organisation_check_character(code[8:16])
        if code[16] != expected_org:
            raise InvalidCreditCode(
                code, f"organisation code check character at position 17 is {code[16]!r}, expected {expected_org!r}",
                "organisation code check character at position 17 does not match positions 9-16",
            )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidCreditCode(code, f"check character at position 18 is {code[17]!r}, expected {expected!r}",
                                "check character at position 18 does not match positions 1-17")


def is_valid_credit_code(code: object, *, check_organisation_code: bool = True) -> bool:
    """Convenience predicate for filters; checks that must refuse should call validate_credit_code instead."""
    try:
        validate_credit_code(code, check_organisation_code=check_organisation_code)
    except InvalidCreditCode:
        return False
    return True


def _lookup(values: Mapping[str, int]) -> np.ndarray:
    table = np.full(256, -1, dtype=np.int64)
    for c, v in values.items():
        table[ord(c)] = v
    return table


_VALUE_TABLE = _lookup(CHAR_VALUE)
_BASE36_TABLE = _lookup({c: int(c, 36) for c in CHARSET})
_TYPE_PAIRS = np.zeros((256, 256), dtype=bool)
for _authority, _types in ORGANISATION_TYPES.items():
    for _t in _types:
        _TYPE_PAIRS[ord(_authority), ord(_t)] = True
_PROVINCES = np.zeros(100, dtype=bool)
_PROVINCES[[int(p) for p in PROVINCE_PREFIXES]] = True


def invalid_credit_code_positions(codes: Sequence[object], *, check_organisation_code: bool = True) -> list[int]:
    """Positions of the codes that validate_credit_code would refuse, checked in bulk (vectorised) for big tables.

    Call validate_credit_code on a reported position to learn why it fails.
    """
    invalid = [i for i, c in enumerate(codes) if not (isinstance(c, str) and len(c) == CODE_LENGTH and c.isascii())]
    rejected = set(invalid)
    candidates = [i for i in range(len(codes)) if i not in rejected]
    if not candidates:
        return invalid
    blob = "".join(codes[i] for i in candidates).encode("ascii")  # type: ignore[misc]
    chars = np.frombuffer(blob, dtype=np.uint8).reshape(len(candidates), CODE_LENGTH).astype(np.int64)
    values = _VALUE_TABLE[chars]
    bad = (values < 0).any(axis=1)
    bad |= ~_TYPE_PAIRS[chars[:, 0], chars[:, 1]]
    digits = chars[:, 2:8] - ord("0")
    bad |= ((digits < 0) | (digits > 9)).any(axis=1)
    digits = np.clip(digits, 0, 9)
    central = (digits == np.array([int(d) for d in CENTRAL_DIVISION])).all(axis=1)
    bad |= ~(_PROVINCES[digits[:, 0] * 10 + digits[:, 1]] | central)
    safe = np.where(values < 0, 0, values)
    expected = (31 - (safe[:, :17] @ np.array(WEIGHTS)) % 31) % 31
    bad |= expected != safe[:, 17]
    if check_organisation_code:
        body = np.where(_BASE36_TABLE[chars[:, 8:16]] < 0, 0, _BASE36_TABLE[chars[:, 8:16]])
        org = (11 - (body @ np.array(ORG_CODE_WEIGHTS)) % 11) % 11
        org_char = np.where(org == 10, ord("X"), org + ord("0"))
        bad |= org_char != chars[:, 16]
    invalid += [candidates[k] for k in np.flatnonzero(bad)]
    return sorted(invalid)


def generate_credit_code(
    rng: random.Random,
    district: str | None = None,
    *,
    authority: str = "9",
    org_type: str = "1",
) -> str:
    """Return a random valid code (default: an enterprise, 91) registered in `district` (6-digit division code).

    Organisation code bodies follow the two shapes seen in practice: post-2015 registrations ("MA" + 6
    characters) and legacy numeric organisation codes (8 digits). Uniqueness is the caller's concern.
    """
    division = district if district is not None else rng.choice(DEFAULT_DISTRICTS)
    if org_type not in ORGANISATION_TYPES.get(authority, frozenset()):
        raise InvalidCreditCode(authority + org_type, "unknown authority / organisation type pair")
    if rng.random() < 0.6:
        body = "MA" + "".join(rng.choice(CHARSET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = authority + org_type + division + body + organisation_check_character(body)
    code = first17 + check_character(first17)
    validate_credit_code(code)  # rejects a malformed `district` with the precise reason
    return code
