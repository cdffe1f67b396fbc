"""The batch X25519 kernel: `x25519_ifma.c` (sixteen points per AVX-512 IFMA ladder), built once per machine.

X25519 through `cryptography` costs about 30 us a point here, one OpenSSL call each; the C kernel computes the
same function (tests compare them byte for byte) for a whole batch in one call, about 7 us a point on this
machine's AVX-512 IFMA unit, and ctypes releases the GIL while it runs. The shared object is compiled with
the system C compiler on first use into a cache folder named after the source's SHA-256 (`XYD_NATIVE_CACHE`,
default `~/.cache/xyd`), written atomically so concurrent processes can race safely. Without a compiler or
without AVX-512 IFMA, or with `XYD_PSI_KERNEL=cryptography`, `native_x25519()` is None and callers use
`cryptography`.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).with_name("x25519_ifma.c")
FLAGS = ["-O3", "-shared", "-fPIC"]  # AVX-512 is enabled inside the source, for the ladder only
BUILD_TIMEOUT_S = 120

# (scalar, packed points) -> (packed results, index of the first all-zero result or -1)
X25519Many = Callable[[bytes, bytes], tuple[bytes, int]]

log = logging.getLogger("xyd.psi")


def cache_dir() -> Path:
    """Where built kernels are kept: `XYD_NATIVE_CACHE`, else `~/.cache/xyd`."""
    configured = os.environ.get("XYD_NATIVE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "xyd"


def build(target_dir: Path | None = None) -> Path:
    """Compile the kernel (if this source was not built yet) and return the shared object's path."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + " ".join(FLAGS).encode()).hexdigest()[:16]
    folder = target_dir or cache_dir()
    target = folder / f"x25519_ifma-{digest}.so"
    if target.exists():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise FileNotFoundError("no C compiler (cc or gcc) to build the X25519 kernel")
    folder.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=target.name, suffix=".part", dir=folder)
    os.close(fd)
    try:
        subprocess.run([compiler, *FLAGS, "-o", partial, str(SOURCE)], check=True, capture_output=True,
                       timeout=BUILD_TIMEOUT_S)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


@cache
def native_x25519() -> X25519Many | None:
    """The C kernel, or None (disabled, no compiler, or a CPU without AVX-512 IFMA): use `cryptography`."""
    if os.environ.get("XYD_PSI_KERNEL", "native") == "cryptography":
        return None
    try:
        library = ctypes.CDLL(str(build()))
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("X25519 kernel unavailable, using cryptography", extra={"reason": str(exc)[:300]})
        return None
    if not library.xyd_x25519_supported():
        log.info("X25519 kernel needs AVX-512 IFMA, using cryptography")
        return None
    many = library.xyd_x25519_many
    many.restype = ctypes.c_long
    many.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_long]

    def x25519_many(scalar: bytes, points: bytes) -> tuple[bytes, int]:
        if len(scalar) != 32 or len(points) % 32:
            raise ValueError("a 32-byte scalar and whole 32-byte points")
        count = len(points) // 32
        out = ctypes.create_string_buffer(max(1, 32 * count))
        first_zero = many(scalar, points, out, count)
        return out.raw[:32 * count], int(first_zero)

    return x25519_many
