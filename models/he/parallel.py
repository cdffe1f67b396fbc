"""Modular exponentiation of whole lists on every core, with threads.

gmpy2.powmod_base_list releases the GIL for the whole list, so chunks run truly in parallel in
threads: no worker processes, no copying ciphertexts between processes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import gmpy2
from gmpy2 import mpz

# Below this many items per thread the thread start-up costs more than it saves.
MIN_ITEMS_PER_THREAD = 4


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def powmod_list(bases: list[mpz], exponent: int, modulus: int, threads: int | None = None) -> list[mpz]:
    """[b^exponent mod modulus for b in bases], split across `threads` threads (default: all cores)."""
    threads = max(1, min(threads or default_threads(), len(bases) // MIN_ITEMS_PER_THREAD))
    if threads == 1:
        return list(gmpy2.powmod_base_list(bases, exponent, modulus))
    size = -(-len(bases) // threads)
    chunks = [bases[i : i + size] for i in range(0, len(bases), size)]
    with ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="xyd-powmod") as executor:
        parts = list(executor.map(lambda chunk: gmpy2.powmod_base_list(chunk, exponent, modulus), chunks))
    return [value for part in parts for value in part]
