"""HE engine benchmark: phe against the fast Paillier path and OU, measured in one run on this machine.

`python -m benchmarks he --key-bits 2048` prints one JSON object (last line of stdout); progress goes to
stderr. Single-thread figures ("per core") divide by the measuring thread's CPU time, so other processes
sharing the machine do not distort them or the ratios to phe; their wall-clock rates are under
`wall_clock`. Figures that use every core (pool fill, decrypt_values_per_s) are wall-clock.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from models.he import (
    Decryptor,
    Encryptor,
    FixedPointCodec,
    ObfuscatorPool,
    OUKeypair,
    OUParams,
    PackingLayout,
    PaillierKeypair,
    PaillierParams,
)
from models.he.parallel import default_threads

# Targets from issue 3 (2048-bit keys), checked on the per-core (CPU-time) figures so that other jobs on a
# shared machine cannot flip them; packed decryption must reach its target on a single core.
TARGETS = {
    "obfuscators_vs_phe_encrypt": 20.0,
    "online_encrypt_per_s": 100_000.0,
    "bucket_sum_adds_per_s": 100_000.0,
    "decrypt_values_per_s_per_core": 3_000.0,
}


def _log(message: str) -> None:
    print(f"[he] {message}", file=sys.stderr, flush=True)


def _cpu_rate(out: dict[str, Any], name: str, count: int, action: Callable[[], Any]) -> Any:
    """Run `action` once; out[name] = items per CPU-second of this thread, wall-clock rate in out["wall_clock"]."""
    wall, cpu = time.perf_counter(), time.thread_time()
    result = action()
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    out[name] = count / max(cpu, 1e-9)
    out.setdefault("wall_clock", {})[name] = count / wall
    return result


def _wall_rate(out: dict[str, Any], name: str, count: int, action: Callable[[], Any]) -> Any:
    """Run `action` once; out[name] = items per wall-clock second (work spread over threads or processes)."""
    start = time.perf_counter()
    result = action()
    out[name] = count / (time.perf_counter() - start)
    return result


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks he", description=__doc__)
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument(
        "--values", type=int, default=20_000, help="values for online encryption and bucket sums"
    )
    parser.add_argument("--phe-samples", type=int, default=60, help="phe encryptions/decryptions to time")
    parser.add_argument(
        "--obfuscators", type=int, default=600, help="obfuscators generated in-process per test"
    )
    parser.add_argument(
        "--buckets", type=int, default=2_000, help="histogram buckets the values are summed into"
    )
    parser.add_argument("--workers", type=int, default=default_threads(), help="pool worker processes")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def _paillier(args: argparse.Namespace, insecure: bool, out: dict[str, Any]) -> None:
    rng = np.random.default_rng(args.seed)
    params = PaillierParams(key_bits=args.key_bits, allow_insecure_for_tests=insecure)
    _log(f"generating a {args.key_bits}-bit Paillier key (phe)")
    keys = PaillierKeypair.generate(params)
    phe_public, phe_private = keys.public.to_phe(), keys.secret.to_phe()

    samples = rng.uniform(-1, 1, args.phe_samples).tolist()
    phe_cts = _cpu_rate(
        out, "phe_encrypt_per_s", len(samples), lambda: [phe_public.encrypt(x) for x in samples]
    )
    _cpu_rate(out, "phe_decrypt_per_s", len(samples), lambda: [phe_private.decrypt(c) for c in phe_cts])
    pairs = phe_cts * 20
    _cpu_rate(
        out, "phe_add_per_s", len(pairs) - 1, lambda: [a + b for a, b in zip(pairs, pairs[1:], strict=False)]
    )
    _log(f"phe: {out['phe_encrypt_per_s']:.0f} enc/s, {out['phe_decrypt_per_s']:.0f} dec/s per core")

    secret_source = keys.secret.obfuscator_source()
    start = time.perf_counter()
    secret_generator = secret_source.generator()
    out["obfuscator_table_build_s"] = time.perf_counter() - start
    out["obfuscator_exponent_bits"] = secret_source.exponent_bits
    _cpu_rate(
        out,
        "obfuscators_per_s_per_core",
        args.obfuscators,
        lambda: secret_generator.generate(args.obfuscators),
    )
    public_generator = keys.public.obfuscator_source(window_bits=8).generator()
    _cpu_rate(
        out,
        "obfuscators_public_per_s_per_core",
        args.obfuscators,
        lambda: public_generator.generate(args.obfuscators),
    )
    _log(f"obfuscators: {out['obfuscators_per_s_per_core']:.0f}/s per core (key holder, CRT)")

    scalar = PackingLayout.scalar(FixedPointCodec(frac_bits=53, max_abs=1.0), keys.public.plaintext_bits)
    gh_layout = PackingLayout.plan(
        FixedPointCodec(frac_bits=53, max_abs=1.0), slots=2, max_additions=args.values
    )
    values = rng.uniform(-1, 1, args.values)
    gh = np.column_stack([rng.uniform(-1, 1, args.values), rng.uniform(0, 0.25, args.values)])
    with ObfuscatorPool(secret_source, capacity=2 * args.values, workers=args.workers, batch=512) as pool:
        _wall_rate(
            out, "pool_fill_per_s_all_workers", 2 * args.values, lambda: pool.wait_until_full(timeout=600)
        )
        encryptor = Encryptor(keys.public, pool)
        encrypted = _cpu_rate(
            out, "online_encrypt_per_s", args.values, lambda: encryptor.encrypt(values, scalar)
        )
        gh_encrypted = _cpu_rate(
            out, "online_encrypt_gh_rows_per_s", args.values, lambda: encryptor.encrypt(gh, gh_layout)
        )
        out["pool_stats"] = vars(pool.stats())
    _log(f"online encryption: {out['online_encrypt_per_s']:.0f} values/s with a warm pool")

    decryptor = Decryptor(keys.secret)
    check = decryptor.decrypt(encrypted.take(np.arange(50)))
    assert np.allclose(check, values[:50], atol=1e-12), "online encryption decrypted wrongly"

    groups = rng.integers(0, args.buckets, args.values)
    histogram = _cpu_rate(
        out, "bucket_sum_adds_per_s", args.values, lambda: gh_encrypted.bucket_sum(groups, args.buckets)
    )
    packed = _wall_rate(out, "pack_rows_per_s", args.buckets, histogram.pack)
    out["rows_per_ciphertext"] = packed.rows_per_ciphertext
    decoded = _wall_rate(out, "decrypt_values_per_s", 2 * args.buckets, lambda: decryptor.decrypt(packed))
    single = Decryptor(keys.secret, threads=1)
    _cpu_rate(
        out,
        "decrypt_ciphertexts_per_s_per_core",
        len(packed.ciphertexts),
        lambda: single.decrypt_integers(packed),
    )
    out["decrypt_values_per_s_per_core"] = (
        out["decrypt_ciphertexts_per_s_per_core"] * 2 * packed.rows_per_ciphertext
    )
    expected = np.zeros((args.buckets, 2))
    np.add.at(expected, groups, gh)
    assert np.allclose(decoded, expected, atol=1e-9), "packed histogram decrypted wrongly"
    out["ciphertext_bytes"] = keys.public.ciphertext_bytes
    _log(f"bucket sums {out['bucket_sum_adds_per_s']:.0f} adds/s per core")
    _log(f"packed decryption {out['decrypt_values_per_s']:.0f} values/s on all cores")


def _ou(args: argparse.Namespace, insecure: bool, out: dict[str, Any]) -> None:
    rng = np.random.default_rng(args.seed + 1)
    _log(f"generating a {args.key_bits}-bit OU key")
    keys = OUKeypair.generate(OUParams(key_bits=args.key_bits, allow_insecure_for_tests=insecure))
    generator = keys.secret.obfuscator_source().generator()
    batch = _cpu_rate(
        out, "ou_obfuscators_per_s_per_core", args.obfuscators, lambda: generator.generate(args.obfuscators)
    )
    # Online (pool-warm) encryption of 32-bit fixed-point values: a fixed-base power of g and one product.
    layout = PackingLayout.scalar(FixedPointCodec(frac_bits=32, max_abs=1.0), keys.public.plaintext_bits)
    plaintexts = layout.pack(rng.uniform(-1, 1, args.obfuscators))
    keys.public.encrypt_raw(plaintexts[:1], generator.generate(1))  # build g's tables outside the timing
    ciphertexts = _cpu_rate(
        out, "ou_encrypt_per_s", len(plaintexts), lambda: keys.public.encrypt_raw(plaintexts, batch)
    )
    # The key owner's encryption (what SecureBoost's platform does): one product modulo p, no power of g.
    owned = _cpu_rate(
        out, "ou_owner_encrypt_per_s", len(plaintexts), lambda: keys.secret.encrypt_raw(plaintexts, batch)
    )
    decrypted = _cpu_rate(
        out, "ou_decrypt_per_s", len(ciphertexts), lambda: keys.secret.decrypt_raw(ciphertexts, threads=1)
    )
    assert decrypted == plaintexts, "OU decrypted wrongly"
    assert keys.secret.decrypt_raw(owned[:100], threads=1) == plaintexts[:100], "OU owner's encryption wrong"
    out["ou_ciphertext_bytes"] = keys.public.ciphertext_bytes
    out["ou_plaintext_bits"] = keys.public.plaintext_bits
    _log(f"OU: {out['ou_encrypt_per_s']:.0f} enc/s online ({out['ou_owner_encrypt_per_s']:.0f} by the key owner), "
         f"{out['ou_decrypt_per_s']:.0f} dec/s per core")


def main(argv: list[str]) -> dict[str, Any]:
    """Run every measurement once and return the figures, the ratios to phe and the target checks."""
    args = _parse(argv)
    insecure = args.key_bits < 2048
    out: dict[str, Any] = {"key_bits": args.key_bits, "cores": default_threads(), "workers": args.workers}
    out["load_average_1m_before"] = os.getloadavg()[0]
    start = time.perf_counter()
    _paillier(args, insecure, out)
    _ou(args, insecure, out)
    out["load_average_1m_after"] = os.getloadavg()[0]
    out["ratios_to_phe"] = {
        "obfuscators_vs_phe_encrypt": out["obfuscators_per_s_per_core"] / out["phe_encrypt_per_s"],
        "online_encrypt_vs_phe_encrypt": out["online_encrypt_per_s"] / out["phe_encrypt_per_s"],
        "bucket_sum_vs_phe_add": out["bucket_sum_adds_per_s"] / out["phe_add_per_s"],
        "decrypt_values_vs_phe_decrypt": out["decrypt_values_per_s"] / out["phe_decrypt_per_s"],
        "ou_encrypt_vs_phe_encrypt": out["ou_encrypt_per_s"] / out["phe_encrypt_per_s"],
        "ou_decrypt_vs_phe_decrypt": out["ou_decrypt_per_s"] / out["phe_decrypt_per_s"],
    }
    measured = {**out, **out["ratios_to_phe"]}
    out["targets_met"] = {name: measured[name] >= target for name, target in TARGETS.items()}
    out["seconds"] = time.perf_counter() - start
    return out
