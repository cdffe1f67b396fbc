"""The job file parser accepts what modellers write and names what is wrong otherwise."""

import pytest

from jobspec import Stage, StageParams
from jobspec.spec import JobSpecError, parse_job_spec

GOOD = """
[job]
name = "psi-only"
stages = ["psi"]

[parties]
active = "platform/main"
passive = ["source/tax", "source/utilities"]

[psi]
reveal = "active"
batch_size = 5000
"""


def test_parses_parties_stages_and_params() -> None:
    spec = parse_job_spec(GOOD)
    assert spec.parties == ("platform/main", "source/tax", "source/utilities")
    assert spec.stages == ("psi",)
    params = StageParams.parse(spec.stage_params(Stage.PSI))
    assert params.psi.batch_size == 5000
    assert (params.psi.active_learns, params.psi.passive_learns) == (True, False)
    assert params.roster.passive == ("source/tax", "source/utilities")
    assert params.train is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("not toml [", "not valid TOML"),
        ("[job]\nname='x'", "[parties]"),
        ("[parties]\nactive='platform/main'\npassive=[]", "non-empty"),
        ("[parties]\nactive='platform'\npassive=['source/tax']", "expected a party"),
        ("[parties]\nactive='platform/main'\npassive=['source/tax','source/tax']", "twice"),
        ("[job]\nstages=['dance']\n[parties]\nactive='platform/main'\npassive=['source/tax']", "unknown stages"),
        ("[parties]\nactive='platform/main'\npassive=['source/tax']\n[psi]\nreveal='everyone'", "reveal"),
        ("[parties]\nactive='platform/main'\npassive=['source/tax']\n[train]\nalgorithm='magic'", "algorithm"),
        ("[parties]\nactive='platform/main'\npassive=['source/tax']\n[train]\nalgorithm='secureboost'\nntrees=3",
         "valid: ["),
        ("[parties]\nactive='platform/main'\npassive=['source/tax']\n[trian]\nalgorithm='secureboost'",
         "unknown sections"),
        ("[parties]\nactive='platform/main'\npassive=['source/tax']\n[evaluate]\ncontribution=true", "valid:"),
        ("[job]\nstages=['psi','train']\n[parties]\nactive='platform/main'\npassive=['source/tax']", "[train]"),
        ("[job]\nmax_message_mb=0\n[parties]\nactive='platform/main'\npassive=['source/tax']", "max_message_mb"),
        ("[job]\nmax_message_mb=4097\n[parties]\nactive='platform/main'\npassive=['source/tax']", "1..4096"),
        ("[job]\nmax_message_mb='64'\n[parties]\nactive='platform/main'\npassive=['source/tax']", "integer"),
    ],
)
def test_rejects_bad_job_files_with_a_clear_reason(text: str, needle: str) -> None:
    with pytest.raises(JobSpecError, match=None) as info:
        parse_job_spec(text)
    assert needle in str(info.value)


def test_training_settings_are_typed_and_reach_every_stage() -> None:
    spec = parse_job_spec(GOOD.replace('reveal = "active"', 'reveal = "both"').replace('stages = ["psi"]', "")
                          + '\n[train]\nalgorithm = "secureboost"\nn_trees = 4\nscheme = "ou"\n'
                          + "\n[evaluate]\ncontributions = true\n")
    assert spec.stages == (Stage.PSI, Stage.TRAIN, Stage.EVALUATE, Stage.PUBLISH)
    evaluate = StageParams.parse(spec.stage_params(Stage.EVALUATE))
    assert evaluate.require_train().secureboost.n_trees == 4
    assert evaluate.require_train().key.scheme == "ou"
    assert evaluate.evaluate.contributions
    assert not StageParams.parse(spec.stage_params(Stage.TRAIN)).evaluate.contributions
def test_the_message_ceiling_travels_in_bytes_and_defaults_to_the_nodes() -> None:
    assert parse_job_spec(GOOD).max_message_bytes == 0  # each node's default
    declared = parse_job_spec(GOOD.replace('stages = ["psi"]', 'stages = ["psi"]\nmax_message_mb = 64'))
    assert declared.max_message_mb == 64 and declared.max_message_bytes == 64 << 20
