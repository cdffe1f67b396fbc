"""Unified social credit code (GB 32100-2015): known codes, mutations, clear refusal reasons, generation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.credit_code import (
    CHARSET,
    InvalidCreditCode,
    generate_credit_code,
    invalid_credit_code_positions,
    is_valid_credit_code,
    validate_credit_code,
)

# The weights 3^(i-1) mod 31 written out as GB 32100-2015 tabulates them, independent of the module's formula.
TABLED_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714 weights of the organisation code, as tabulated.
TABLED_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def hand_check_character(first17: str) -> str:
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, TABLED_WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def hand_org_check(body: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body, TABLED_ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def build(prefix8: str, org_body: str) -> str:
    first17 = prefix8 + org_body + hand_org_check(org_body)
    return first17 + hand_check_character(first17)


# Real-world formats: enterprise (91), individual business (92), social group (51), public institution (12),
# built with the tabulated weights above.
KNOWN_VALID = [
    "91350100M000100Y43",  # the sample code printed in the standard's explanatory material
    build("91330106", "MA27U0J1"),
    build("92330102", "MA2H3K0L"),
    build("51110000", "50000876"),
    build("12100000", "40000774"),
    build("91440300", "70884745"),
]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_valid_codes_pass(code: str) -> None:
    validate_credit_code(code)
    assert is_valid_credit_code(code)


def test_sample_code_check_characters_by_hand() -> None:
    # M=21 in CHARSET (I and the later excluded letters shift values), Y=30; GB 11714 values letters A=10..Z=35.
    assert hand_org_check("M000100Y") == "4"
    assert hand_check_character("91350100M000100Y4") == "3"


def test_organisation_check_can_be_skipped_for_legacy_codes() -> None:
    code = KNOWN_VALID[1]
    bad_org = code[:16] + ("1" if code[16] != "1" else "2")
    legacy = bad_org[:17] + hand_check_character(bad_org[:17])
    with pytest.raises(InvalidCreditCode, match="organisation code check character"):
        validate_credit_code(legacy)
    validate_credit_code(legacy, check_organisation_code=False)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    position=st.integers(0, 17),
    replacement=st.sampled_from(CHARSET + "IOZSVabc -*0"),
)
def test_every_single_character_mutation_is_rejected(seed: int, position: int, replacement: str) -> None:
    code = generate_credit_code(random.Random(seed))
    if code[position] == replacement:
        replacement = CHARSET[(CHARSET.index(replacement) + 1) % len(CHARSET)]
    mutated = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidCreditCode):
        validate_credit_code(mutated, check_organisation_code=False)
    assert not is_valid_credit_code(mutated)


def test_exhaustive_substitutions_of_one_code_are_rejected() -> None:
    code = KNOWN_VALID[0]
    for position in range(18):
        for c in CHARSET:
            if c != code[position]:
                mutated = code[:position] + c + code[position + 1 :]
                assert not is_valid_credit_code(mutated, check_organisation_code=False), mutated


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100m000100Y43", "lowercase letter 'm' at position 9"),
        ("91350100M000100Y4", "length is 17, expected 18"),
        ("91350100M000100Y433", "length is 19, expected 18"),
        ("", "length is 0"),
        ("91350100M000I00Y43", "letter 'I' at position 13 is excluded"),
        ("91350100M000100Y4-", "character '-' at position 18 is not allowed"),
        ("B1350100M000100Y43", "unknown registration authority code 'B'"),
        ("95350100M000100Y43", "organisation type '5' at position 2 is not defined for authority '9'"),
        ("913501A0M000100Y43", "administrative division code '3501A0'"),
        ("91990100M000100Y43", "no known province prefix"),
        ("91350100M000100Y53", "organisation code check character at position 17 is '5', expected '4'"),
        ("91350100M000100Y44", "check character at position 18 is '4', expected '3'"),
    ],
)
def test_refusals_give_clear_reasons(code: str, reason: str) -> None:
    with pytest.raises(InvalidCreditCode) as info:
        validate_credit_code(code)
    assert reason in info.value.reason
    assert info.value.code == code


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidCreditCode, match="expected a string"):
        validate_credit_code(913501001)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), district=st.sampled_from(["330106", "110105", "440305", "100000"]))
def test_generated_codes_are_valid_and_in_the_district(seed: int, district: str) -> None:
    code = generate_credit_code(random.Random(seed), district=district)
    validate_credit_code(code)
    assert code[:2] == "91" and code[2:8] == district
    assert code[17] == hand_check_character(code[:17])


def test_generation_is_deterministic_per_seed_and_supports_other_types() -> None:
    a = [generate_credit_code(random.Random(7)) for _ in range(3)]
    b = [generate_credit_code(random.Random(7)) for _ in range(3)]
    assert a == b
    coop = generate_credit_code(random.Random(1), district="330109", authority="9", org_type="3")
    assert coop.startswith("93330109") and is_valid_credit_code(coop)


def test_generation_refuses_a_bad_district() -> None:
    with pytest.raises(InvalidCreditCode, match="division"):
        generate_credit_code(random.Random(1), district="33A106")
    with pytest.raises(InvalidCreditCode):
        generate_credit_code(random.Random(1), district="330106", authority="9", org_type="9")


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    edits=st.lists(
        st.tuples(st.integers(0, 19), st.integers(0, 17), st.sampled_from(CHARSET + "IOSZVxy é-")), max_size=12
    ),
    extras=st.lists(st.one_of(st.text(max_size=20), st.none(), st.integers()), max_size=3),
    check_org=st.booleans(),
)
def test_bulk_check_agrees_with_the_scalar_check(seed, edits, extras, check_org: bool) -> None:
    rng = random.Random(seed)
    codes: list[object] = [generate_credit_code(rng) for _ in range(20)]
    codes += ["91350100M000100Y43", "12100000400007745X"[:18], "100000" * 3]
    for index, position, c in edits:
        code = str(codes[index])
        codes[index] = code[:position] + c + code[position + 1 :]
    codes += extras
    expected = [i for i, c in enumerate(codes) if not is_valid_credit_code(c, check_organisation_code=check_org)]
    assert invalid_credit_code_positions(codes, check_organisation_code=check_org) == expected
