"""The job file parser accepts what modellers write and names what is wrong otherwise."""

import pytest

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
    params = spec.stage_params("psi")
    assert params["batch_size"] == 5000
    assert (params["active_learns"], params["passive_learns"]) == (True, False)
    assert params["passive"] == ["source/tax", "source/utilities"]


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
        # The insider attack: a source unit leading a match against another unit's table.
        ("[parties]\nactive='source/tax'\npassive=['source/court']", "only the platform may lead"),
        ("[job]\nproject='Bad Project'\n[parties]\nactive='platform/main'\npassive=['source/tax']", "project"),
        ("[parties]\nactive='platform/main'\npassive=['source/tax']\n[items]\n'source/court'=['x']", "not a passive"),
        ("[parties]\nactive='platform/main'\npassive=['source/tax']\n[items]\n'source/tax'=[]", "non-empty list"),
    ],
)
def test_rejects_bad_job_files_with_a_clear_reason(text: str, needle: str) -> None:
    with pytest.raises(JobSpecError, match=None) as info:
        parse_job_spec(text)
    assert needle in str(info.value)


def test_project_and_items_reach_every_stage() -> None:
    spec = parse_job_spec("[job]\nproject='credit-2026'\n[parties]\nactive='platform/main'\npassive=['source/tax']\n"
                          "[items]\n'source/tax'=['revenue_12m_cny']\n[train]\nalgorithm='secureboost'\n")
    assert spec.project == "credit-2026" and spec.items == {"source/tax": ("revenue_12m_cny",)}
    for stage in spec.stages:
        params = spec.stage_params(stage)
        assert params["project"] == "credit-2026" and params["items"] == {"source/tax": ["revenue_12m_cny"]}
