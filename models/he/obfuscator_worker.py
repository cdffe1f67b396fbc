"""Obfuscator worker process: `python -m models.he.obfuscator_worker`, spoken to over stdin/stdout.

Frames are a 4-byte big-endian length and a payload. The parent sends the recipe, then a seed (empty:
OS randomness; non-empty: a deterministic test-only generator), then requests of 4-byte counts; each
request is answered with that many fixed-width obfuscator records. An empty request, or end of input
(the parent is gone), ends the process. No pickled data crosses the pipe.
"""

from __future__ import annotations

import os
import random
import secrets
import sys
from typing import BinaryIO

from models.he.framing import read_frame, write_frame
from models.he.obfuscators import ObfuscatorSource


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer batch requests until an empty request or end of input."""
    recipe, seed = read_frame(inp), read_frame(inp)
    if recipe is None or seed is None:
        return
    generator = ObfuscatorSource.from_bytes(recipe).generator()
    rng = random.Random(seed) if seed else secrets.SystemRandom()
    while (request := read_frame(inp)) is not None and request:
        write_frame(out, generator.generate_bytes(int.from_bytes(request, "big"), rng))


if __name__ == "__main__":
    # Optional argument: niceness to add (the pool's `niceness`), so the parent's own work goes first.
    if len(sys.argv) > 1 and int(sys.argv[1]) > 0:
        os.nice(int(sys.argv[1]))
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
