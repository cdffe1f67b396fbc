"""A party's secret blinding scalar and batch scalar multiplication of packed X25519 u-coordinates.

X25519 is the ladder x([clamp(k)] P) for any 32-byte u, on the curve or on its twist. A batch goes to the
C kernel in one call when this machine has it (kernel.py: sixteen points per AVX-512 IFMA ladder, about
7 us a point here); otherwise to `X25519PrivateKey.exchange`, once per point (about 30 us, holding the
GIL). `BlindingPool` spreads batches over worker threads (C kernel) or processes (`cryptography`).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from random import Random

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from federation.psi.errors import InvalidPointError, PsiProtocolError
from federation.psi.hashing import POINT_BYTES
from federation.psi.kernel import native_x25519


class BlindingKey:
    """One run's secret scalar; it stays on this machine (at most in this run's worker processes)."""

    def __init__(self, scalar: bytes) -> None:
        if len(scalar) != 32:
            raise ValueError("an X25519 scalar is 32 bytes")
        self._scalar = bytes(scalar)
        self._key = X25519PrivateKey.from_private_bytes(scalar)

    @property
    def scalar(self) -> bytes:
        """The secret itself: only for this run's own workers (its processes, or the party's Ray cluster)."""
        return self._scalar

    @classmethod
    def generate(cls, rng: Random) -> BlindingKey:
        """A fresh scalar from `rng` (clamped by X25519 itself: a multiple of 8 with bit 254 set)."""
        return cls(rng.randbytes(32))

    def blind(self, points: bytes) -> bytes:
        """Multiply each packed point by the scalar; raises InvalidPointError on a low-order input."""
        if len(points) % POINT_BYTES:
            raise PsiProtocolError(f"packed points length {len(points)} is not a multiple of {POINT_BYTES}")
        kernel = native_x25519()
        if kernel is not None:
            blinded, first_zero = kernel(self._scalar, bytes(points))
            if first_zero >= 0:
                # An all-zero result means a point of order dividing 8, as `exchange` refuses below.
                raise InvalidPointError(first_zero)
            return blinded
        exchange = self._key.exchange
        load = X25519PublicKey.from_public_bytes
        try:
            return b"".join([exchange(load(points[i:i + POINT_BYTES])) for i in range(0, len(points), POINT_BYTES)])
        except ValueError:
            # `exchange` refuses an all-zero result, i.e. a point of order dividing 8: find which one.
            for i in range(0, len(points), POINT_BYTES):
                try:
                    exchange(load(points[i:i + POINT_BYTES]))
                except ValueError:
                    raise InvalidPointError(i // POINT_BYTES) from None
            raise


def _blind_in_worker(scalar: bytes, points: bytes) -> bytes:
    """Worker entry (thread or process): only bytes cross the pipe to and from a process pool."""
    return BlindingKey(scalar).blind(points)


class BlindingPool:
    """Blind a stream of batches in order, on `workers` threads (C kernel) or processes (`cryptography`).

    The C kernel releases the GIL, so threads run it in parallel, and even one worker thread blinds the
    next batch while the caller sends the last. `cryptography` holds the GIL: with it, `workers` = 1
    blinds in the caller's thread and more spawn processes (not forked: forking a process that runs gRPC
    threads is unsafe). At most `2 * workers` batches are in flight, so memory stays bounded whatever
    the stream length.
    """

    def __init__(self, key: BlindingKey, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._key = key
        self._depth = 2 * workers
        self._executor: Executor | None = None
        if native_x25519() is not None:
            self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="psi-blind")
        elif workers > 1:
            self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def map(self, batches: Iterable[bytes]) -> Iterator[bytes]:
        """The blinded batches, in input order; `batches` is consumed lazily."""
        if self._executor is None:
            for batch in batches:
                yield self._key.blind(batch)
            return
        pending: deque[Future[bytes]] = deque()
        for batch in batches:
            pending.append(self._executor.submit(_blind_in_worker, self._key.scalar, batch))
            if len(pending) >= self._depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        """Stop the worker processes (cancelling queued batches)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BlindingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
