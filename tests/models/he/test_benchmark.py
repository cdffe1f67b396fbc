"""The HE benchmark runs end to end at a tiny size and reports every field the issue asks for."""

from __future__ import annotations

from tests.benchmark_cli import run_benchmark

REQUIRED = [
    "phe_encrypt_per_s",
    "phe_decrypt_per_s",
    "obfuscators_per_s_per_core",
    "online_encrypt_per_s",
    "bucket_sum_adds_per_s",
    "decrypt_values_per_s",
    "ou_encrypt_per_s",
    "ou_decrypt_per_s",
]


def test_benchmark_reports_every_required_figure() -> None:
    result = run_benchmark(
        "he",
        [
            "--key-bits",
            "1024",
            "--values",
            "300",
            "--buckets",
            "40",
            "--phe-samples",
            "5",
            "--obfuscators",
            "20",
            "--workers",
            "1",
        ],
        timeout=240,
    )
    for name in REQUIRED:
        assert result[name] > 0, name
    assert set(result["ratios_to_phe"]) >= {"obfuscators_vs_phe_encrypt", "decrypt_values_vs_phe_decrypt"}
    assert result["pool_stats"]["consumed"] == 600
    assert result["rows_per_ciphertext"] > 1
