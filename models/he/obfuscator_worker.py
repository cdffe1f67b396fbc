"""Obfuscator worker process: `python -m models.he.obfuscator_worker`, spoken to over stdin/stdout.

Frames are a 4-byte big-endian length and a payload. The parent sends the recipe, then a seed (empty:
OS randomness; non-empty: a deterministic test-only generator), then requests of 4-byte counts; each
request is answered with that many fixed-width obfuscator records. An empty request, or end of input
(the parent is gone), ends the process. No pickled data crosses the pipe.

Further workers of the same pool may share the first one's tables: the pool hands this process one pair of
pipe descriptors per sibling (`R:W` arguments); once its tables are built it forks one child per pair, which
reads its own recipe and seed from R and answers on W exactly as above. The tables (100-300 MB, a second or
two of products each) are then built once per pool instead of once per worker, and their pages stay shared.
"""

from __future__ import annotations

import os
import random
import secrets
import sys
from collections.abc import Sequence
from typing import BinaryIO

from models.he.framing import read_frame, write_frame
from models.he.obfuscators import ObfuscatorGenerator, ObfuscatorSource


def serve(inp: BinaryIO, out: BinaryIO, siblings: Sequence[tuple[int, int]] = ()) -> None:
    """Answer batch requests until an empty request or end of input; fork one child per sibling pipe pair
    once the tables are built (each child then serves its own pipes with the same tables)."""
    recipe, seed = read_frame(inp), read_frame(inp)
    if recipe is None or seed is None:
        return
    generator = ObfuscatorSource.from_bytes(recipe).generator()
    children = [_fork_sibling(generator, recipe, fds, siblings[i + 1:]) for i, fds in enumerate(siblings)]
    try:
        _answer(generator, seed, inp, out)
    finally:
        for pid in children:
            os.waitpid(pid, 0)


def _answer(generator: ObfuscatorGenerator, seed: bytes, inp: BinaryIO, out: BinaryIO) -> None:
    rng = random.Random(seed) if seed else secrets.SystemRandom()
    while (request := read_frame(inp)) is not None and request:
        write_frame(out, generator.generate_bytes(int.from_bytes(request, "big"), rng))


def _fork_sibling(generator: ObfuscatorGenerator, recipe: bytes, fds: tuple[int, int],
                  later: Sequence[tuple[int, int]]) -> int:
    """In the parent: close this sibling's descriptors and return the child's pid. In the child: serve them
    (and hold nothing else of the pool's: its own stdin/stdout and later siblings' pipes are closed, so each
    pipe still reaches end-of-input when its process goes)."""
    pid = os.fork()
    if pid:
        os.close(fds[0])
        os.close(fds[1])
        return pid
    code = 0
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        for fd in (fd for pair in later for fd in pair):
            os.close(fd)
        with os.fdopen(fds[0], "rb") as inp, os.fdopen(fds[1], "wb") as out:
            own_recipe, seed = read_frame(inp), read_frame(inp)
            if own_recipe is not None and seed is not None:
                if own_recipe != recipe:  # the pool sends every worker the same recipe; never assume it
                    generator = ObfuscatorSource.from_bytes(own_recipe).generator()
                _answer(generator, seed, inp, out)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    except BaseException:
        code = 1
    os._exit(code)


if __name__ == "__main__":
    # Arguments: niceness to add (the pool's `niceness`), so the parent's own work goes first; then one
    # R:W pair of inherited pipe descriptors per sibling worker that shares this one's tables.
    if len(sys.argv) > 1 and int(sys.argv[1]) > 0:
        os.nice(int(sys.argv[1]))
    pairs = [tuple(int(fd) for fd in arg.split(":")) for arg in sys.argv[2:]]
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer, [(r, w) for r, w in pairs])
    except (BrokenPipeError, KeyboardInterrupt):
        pass
