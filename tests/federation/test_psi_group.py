"""X25519 blinding commutes on hashed ids (curve and twist points alike); bad points are refused."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.psi.blinding import BlindingKey, BlindingPool
from federation.psi.errors import InvalidPointError, PsiProtocolError
from federation.psi.hashing import HASH_DOMAIN, IdSet, hash_to_u
from federation.psi.matching import as_points, membership, sorted_packed

P = 2**255 - 19
A = 486662


def clamp(scalar: bytes) -> int:
    """RFC 7748 decodeScalar25519."""
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return int.from_bytes(k, "little")


def ladder(k: int, u: int) -> int:
    """An independent x-only Montgomery ladder (RFC 7748 section 5) for ANY integer scalar k."""
    x1, x2, z2, x3, z3, swap = u % P, 1, 0, u % P, 1, 0
    for t in reversed(range(max(k.bit_length(), 1))):
        bit = (k >> t) & 1
        if swap ^ bit:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = x2 + z2, x2 - z2
        aa, bb = a * a % P, b * b % P
        e = aa - bb
        c, d = x3 + z3, x3 - z3
        da, cb = d * a % P, c * b % P
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + 121665 * e) % P
    if swap:
        x2, z2 = x3, z3
    return x2 * pow(z2, P - 2, P) % P


def on_twist(u: int) -> bool:
    """True when u^3 + A u^2 + u is a non-square mod p: the point lies on the quadratic twist."""
    return pow((u * u * u + A * u * u + u) % P, (P - 1) // 2, P) == P - 1


def test_double_blinding_commutes_over_many_ids_on_curve_and_twist() -> None:
    rng = random.Random(1)
    points = b"".join(hash_to_u(f"913301{rng.getrandbits(48):012d}") for _ in range(1500))
    twist = sum(on_twist(int.from_bytes(points[i:i + 32], "little")) for i in range(0, len(points), 32))
    assert 600 < twist < 900, "hashing to u should land on the twist about half the time"
    a, b = BlindingKey(rng.randbytes(32)), BlindingKey(rng.randbytes(32))
    assert a.blind(b.blind(points)) == b.blind(a.blind(points))


def test_double_blinding_is_multiplication_by_the_product_of_clamped_scalars() -> None:
    rng = random.Random(2)
    sa, sb = rng.randbytes(32), rng.randbytes(32)
    product = clamp(sa) * clamp(sb)
    seen_twist = seen_curve = False
    for i in range(24):
        u = hash_to_u(f"id-{i}")
        value = int.from_bytes(u, "little")
        seen_twist |= on_twist(value)
        seen_curve |= not on_twist(value)
        double = BlindingKey(sa).blind(BlindingKey(sb).blind(u))
        assert int.from_bytes(double, "little") == ladder(product, value)
    assert seen_twist and seen_curve


def test_clamping_makes_scalars_equal_that_differ_in_the_clamped_bits() -> None:
    rng = random.Random(3)
    scalar = bytearray(rng.randbytes(32))
    other = bytearray(scalar)
    other[0] ^= 0x07
    other[31] ^= 0xC0
    u = hash_to_u("clamped")
    assert BlindingKey(bytes(scalar)).blind(u) == BlindingKey(bytes(other)).blind(u)


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_commutes_for_any_u_and_scalars(u: bytes, sa: bytes, sb: bytes) -> None:
    a, b = BlindingKey(sa), BlindingKey(sb)
    try:
        left = a.blind(b.blind(u))
    except InvalidPointError:
        # Only a low-order input gives the identity; then both orders must refuse.
        with pytest.raises(InvalidPointError):
            b.blind(a.blind(u))
        return
    assert left == b.blind(a.blind(u))


LOW_ORDER_U = [0, 1, P - 1, P, P + 1,
               325606250916557431795983626356110631294008115727848805560023387167927233504,
               39382357235489614581723060781553021112529911719440698176882885853963445705823]


@pytest.mark.parametrize("u", LOW_ORDER_U)
def test_low_order_points_are_refused_with_their_position(u: int) -> None:
    batch = hash_to_u("fine") + u.to_bytes(32, "little")
    with pytest.raises(InvalidPointError) as caught:
        BlindingKey(bytes(range(32))).blind(batch)
    assert caught.value.index == 1


def test_a_pool_blinds_in_order_and_reports_a_bad_point_from_a_worker() -> None:
    rng = random.Random(9)
    key = BlindingKey(rng.randbytes(32))
    batches = [b"".join(hash_to_u(f"{b}-{i}") for i in range(b + 1)) for b in range(7)]
    with BlindingPool(key, workers=2) as pool:
        assert list(pool.map(iter(batches))) == [key.blind(batch) for batch in batches]
        with pytest.raises(InvalidPointError) as caught:
            list(pool.map([batches[0], hash_to_u("ok") * 3 + bytes(32)]))
    assert caught.value.index == 3


def test_a_truncated_point_is_a_protocol_error() -> None:
    with pytest.raises(PsiProtocolError):
        BlindingKey(bytes(32)).blind(bytes(33))


def test_hash_to_u_is_domain_separated_and_leaves_bit_255_clear() -> None:
    for text in ["", "a", "企业", "91330100MA2XXXXX1X"]:
        u = hash_to_u(text)
        assert u[31] < 0x80
        assert u[:31] == hashlib.sha256(HASH_DOMAIN + text.encode()).digest()[:31]
        assert u[:31] != hashlib.sha256(text.encode()).digest()[:31]


def test_id_set_deduplicates_and_maps_each_point_back_to_its_id() -> None:
    ids = ["b", "a", "c", "a", "b", "b", "d"]
    first = IdSet.build(iter(ids), rng=random.Random(4))
    assert first.duplicates == 3 and len(first) == 4
    assert sorted(first.id_at(k) for k in range(4)) == ["a", "b", "c", "d"]
    for k in range(4):
        assert first.points[k] == np.frombuffer(hash_to_u(first.id_at(k)), dtype="S32")[0]
    orders = {tuple(IdSet.build(ids, rng=random.Random(seed)).id_at(k) for k in range(4)) for seed in range(40)}
    assert len(orders) > 10, "the order sent to the peer must be random, not the input or hash order"


def test_id_set_refuses_non_string_ids() -> None:
    with pytest.raises(TypeError):
        IdSet.build(["a", b"b"], rng=random.Random(0))  # type: ignore[list-item]


# Points that differ in a single byte (first, middle, last) or only by trailing zeros must not be confused.
NEAR_POINTS = [bytes(32), bytes(31) + b"\x01", b"\x01" + bytes(31), bytes(16) + b"\x01" + bytes(15),
               b"\xff" * 32, b"\xff" * 31 + b"\x00", b"\xff" * 31 + b"\xfe"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(NEAR_POINTS), max_size=12), st.lists(st.sampled_from(NEAR_POINTS), max_size=12))
def test_membership_is_exact_on_near_identical_points(own: list[bytes], other: list[bytes]) -> None:
    own_points, other_points = as_points(b"".join(own)), as_points(b"".join(other))
    assert membership(own_points, other_points).tolist() == [value in set(other) for value in own]
    ordered = sorted_packed(other_points)
    assert [ordered[i:i + 32] for i in range(0, len(ordered), 32)] == sorted(other)


def test_membership_on_random_points_matches_a_set_whatever_the_last_bytes() -> None:
    rng = random.Random(12)
    other = [rng.randbytes(32) for _ in range(3000)]
    # Shared points, and points equal to one of `other` in all but the last byte (same leading 8 bytes).
    own = other[:1000] + [p[:31] + bytes([p[31] ^ 1]) for p in other[1000:1500]] + [rng.randbytes(32) for _ in range(500)]
    rng.shuffle(own)
    assert membership(as_points(b"".join(own)), as_points(b"".join(other))).tolist() == [p in set(other) for p in own]


@pytest.mark.parametrize("ids", [[f"91{n:016d}" for n in range(300)],  # one width, ASCII: the numpy path
                                 [f"{n}" for n in range(300)] + ["企业", "a\x00b", "a"]])
def test_sorted_ids_at_gives_the_sorted_ids_of_those_positions(ids: list[str]) -> None:
    own = IdSet.build(ids + ids[:50], rng=random.Random(3))
    positions = np.arange(0, len(own), 3)
    assert own.sorted_ids_at(positions) == sorted(own.id_at(int(k)) for k in positions)
    assert own.sorted_ids_at(np.empty(0, dtype=np.int64)) == []
