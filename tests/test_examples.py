"""The sample files of docs/examples are what an operator starts from: every one of them loads as its
program reads it, and the sample PSI job runs on a real federation (tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.config import load_node_config
from jobspec import Stage, StageParams, parse_job_spec
from platform_node.api.settings import settings_from_mapping

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
NODES = ["coordinator.toml", "platform.toml", "source-tax.toml"]
JOBS = ["psi-job.toml", "secureboost-job.toml", "scorecard-job.toml"]


@pytest.mark.parametrize("name", NODES)
def test_node_examples_load_with_their_policy(name: str) -> None:
    config = load_node_config(EXAMPLES / name, env={})
    assert config.state_dir.is_absolute() and config.tls.ca.name == "ca.pem"
    assert not config.policy.allow_insecure_keys_for_tests and not config.policy.allow_plaintext_training
    if name == "platform.toml":
        settings = settings_from_mapping(config.section("api"), base=EXAMPLES)
        assert settings.port == 8443


@pytest.mark.parametrize("name", JOBS)
def test_job_examples_parse_and_reach_every_stage(name: str) -> None:
    spec = parse_job_spec((EXAMPLES / name).read_text(encoding="utf-8"))
    for stage in spec.stages:
        params = StageParams.parse(spec.stage_params(stage))
        assert params.roster.active == "platform/main"
        if stage is not Stage.PSI:
            assert params.require_train().algorithm == spec.algorithm


def test_the_operator_example_names_the_coordinator_and_a_certificate() -> None:
    import tomllib

    raw = tomllib.loads((EXAMPLES / "operator.toml").read_text(encoding="utf-8"))
    assert raw["coordinator"]["address"] and {"ca", "cert", "key"} <= set(raw["tls"])
