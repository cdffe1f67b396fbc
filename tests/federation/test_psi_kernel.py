"""The C X25519 kernel (federation/psi/x25519_ifma.c) computes exactly OpenSSL's X25519, through `cryptography`,
on random, non-canonical, hashed and small-order inputs and on batch lengths around its 8 and 16 lanes."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.psi import kernel
from federation.psi.blinding import BlindingKey
from federation.psi.errors import InvalidPointError
from federation.psi.hashing import hash_to_u

P = 2**255 - 19
LOW_ORDER_U = [0, 1, P - 1, P, P + 1,
               325606250916557431795983626356110631294008115727848805560023387167927233504,
               39382357235489614581723060781553021112529911719440698176882885853963445705823]

x25519_many = kernel.native_x25519()
needs_kernel = pytest.mark.skipif(x25519_many is None, reason="no C compiler or no AVX-512 IFMA on this machine")


def openssl(scalar: bytes, points: bytes) -> list[bytes | None]:
    """X25519 per point through cryptography; None where it refuses a small-order point."""
    key = X25519PrivateKey.from_private_bytes(scalar)
    out: list[bytes | None] = []
    for i in range(0, len(points), 32):
        try:
            out.append(key.exchange(X25519PublicKey.from_public_bytes(points[i:i + 32])))
        except ValueError:
            out.append(None)
    return out


@needs_kernel
def test_the_kernel_equals_openssl_on_random_noncanonical_and_hashed_points() -> None:
    rng = random.Random(5)
    points = [rng.randbytes(32) for _ in range(300)]  # bit 255 set on about half: ignored by both
    points += [(P + i).to_bytes(32, "little") for i in range(2, 19)]  # non-canonical encodings of 2..18
    points += [(2**255 - 1 - i).to_bytes(32, "little") for i in range(3)]
    points += [hash_to_u(f"91{i:016d}") for i in range(200)]
    for count in (0, 1, 7, 8, 9, 15, 16, 17, 33, len(points)):
        scalar = rng.randbytes(32)
        packed = b"".join(points[:count])
        blinded, first_zero = x25519_many(scalar, packed)
        assert first_zero == -1
        assert [blinded[i:i + 32] for i in range(0, len(blinded), 32)] == openssl(scalar, packed)


@needs_kernel
@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40))
def test_the_kernel_equals_openssl_for_any_scalar_and_points(scalar: bytes, points: list[bytes]) -> None:
    packed = b"".join(points)
    expected = openssl(scalar, packed)
    blinded, first_zero = x25519_many(scalar, packed)
    zeros = [i for i, value in enumerate(expected) if value is None]
    assert first_zero == (zeros[0] if zeros else -1)
    got = [blinded[i:i + 32] for i in range(0, len(blinded), 32)]
    assert [g for g, e in zip(got, expected, strict=True) if e is not None] == [e for e in expected if e is not None]


@needs_kernel
@pytest.mark.parametrize("u", LOW_ORDER_U)
def test_the_kernel_reports_a_small_order_point_where_openssl_refuses_it(u: int) -> None:
    packed = b"".join(hash_to_u(f"ok-{i}") for i in range(10)) + u.to_bytes(32, "little") + hash_to_u("after")
    assert openssl(bytes(range(32)), packed)[10] is None
    blinded, first_zero = x25519_many(bytes(range(32)), packed)
    assert first_zero == 10 and blinded[320:352] == bytes(32)
    with pytest.raises(InvalidPointError) as caught:
        BlindingKey(bytes(range(32))).blind(packed)
    assert caught.value.index == 10


def test_blinding_falls_back_to_cryptography_when_the_kernel_is_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    packed = b"".join(hash_to_u(f"id-{i}") for i in range(13))
    key = BlindingKey(bytes(range(1, 33)))
    with_kernel = key.blind(packed)
    monkeypatch.setenv("XYD_PSI_KERNEL", "cryptography")
    kernel.native_x25519.cache_clear()
    try:
        assert kernel.native_x25519() is None
        assert key.blind(packed) == with_kernel == b"".join(openssl(bytes(range(1, 33)), packed))  # type: ignore[arg-type]
    finally:
        monkeypatch.delenv("XYD_PSI_KERNEL")
        kernel.native_x25519.cache_clear()
