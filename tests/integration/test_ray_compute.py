"""The `ray` compute backend on a two-node Ray cluster started here (tests/ray_cluster.py, one CPU a node) gives
the results of the local computation bit for bit: a source's column-split histograms and the platform's
encryption and decryption give the identical model; PSI hashing and blinding give the identical intersection,
and a PSI on the cluster stopped after a round resumes from its journals with byte-identical messages."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from errors import ConfigurationError
from federation.channel import InMemoryHub
from federation.psi import InvalidPointError, run_psi_follower, run_psi_leader
from federation.psi.blinding import BlindingKey
from federation.psi.hashing import IdSet, hash_to_u
from federation.psi.journal import PsiJournal
from models.he import PaillierKeypair, PaillierParams
from models.secureboost import SecureBoostParams
from models.secureboost.local import train_in_process
from tests.models.secureboost.support import same_trees, synthetic

ray = pytest.importorskip("ray")
KEYS = {"platform/main": b"k" * 32, "source/tax": b"t" * 32, "source/power": b"p" * 32}
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from tests.ray_cluster import two_node_cluster

    with two_node_cluster() as address:
        yield address


@pytest.fixture(scope="module")
def paillier_1024() -> PaillierKeypair:
    return PaillierKeypair.generate(PaillierParams(key_bits=1024, allow_insecure_for_tests=True))


@pytest.fixture(scope="module")
def local_model(paillier_1024: PaillierKeypair):
    y, active, passives = synthetic(300, seed=3, missing_rate=0.05)
    params = SecureBoostParams(n_trees=2, max_depth=3, bins=16, seed=11, colsample_bytree=0.7)
    local = train_in_process(params, y, active, passives, secret=paillier_1024.secret, split_keys=KEYS,
                             allow_insecure_for_tests=True, timeout=120)
    return params, (y, active, passives), local


def test_column_split_histograms_on_two_nodes_give_the_identical_model(cluster: str, local_model,
                                                                      paillier_1024: PaillierKeypair) -> None:
    from models.secureboost.column_workers import RayColumnHistograms

    params, (y, active, passives), local = local_model
    with RayColumnHistograms(workers=2, address=cluster) as columns:
        spread = train_in_process(params, y, active, passives, secret=paillier_1024.secret, split_keys=KEYS,
                                  allow_insecure_for_tests=True, timeout=240, passive_columns={"source/tax": columns})
        assert len({node["NodeID"] for node in ray.nodes() if node["Alive"]}) == 2
    same_trees(local.active, spread.active)
    assert local.passives["source/tax"].rules == spread.passives["source/tax"].rules


def test_the_platforms_encryption_and_decryption_on_two_nodes_give_the_identical_model(
        cluster: str, local_model, paillier_1024: PaillierKeypair) -> None:
    from models.secureboost.row_workers import RayGradientEncryptor

    params, (y, active, passives), local = local_model
    with RayGradientEncryptor(paillier_1024.secret, workers=2, address=cluster) as cipher:
        spread = train_in_process(params, y, active, passives, encryptor=cipher, split_keys=KEYS,
                                  allow_insecure_for_tests=True, timeout=240)
    same_trees(local.active, spread.active)
    assert local.passives["source/tax"].rules == spread.passives["source/tax"].rules


def _psi_pair(leader_ids: list[str], follower_ids: list[str], leader_compute=None, follower_compute=None):
    hub = InMemoryHub(("platform/main", "source/tax"))
    out: dict = {}

    def follower() -> None:
        out["follower"] = run_psi_follower(hub.channel("source/tax"), "platform/main", follower_ids, reveal_to_me=True,
                                           batch_size=300, rng=random.Random(2), compute=follower_compute, timeout=120)

    thread = threading.Thread(target=follower, daemon=True)
    thread.start()
    out["leader"] = run_psi_leader(hub.channel("platform/main"), "source/tax", leader_ids, reveal_to_peer=True,
                                   batch_size=300, rng=random.Random(1), compute=leader_compute, timeout=120)
    thread.join(120)
    return out["leader"], out["follower"]


def test_psi_hashing_and_blinding_on_two_nodes_give_the_identical_intersection(cluster: str) -> None:
    from federation.psi.ray_compute import RayPsiCompute

    leader_ids = [f"91{n:016d}" for n in range(2000)] + ["企业-1", "企业-1"]
    follower_ids = [f"91{n:016d}" for n in range(1200, 3500)] + ["企业-1"]
    local = _psi_pair(leader_ids, follower_ids)
    with pytest.raises(ConfigurationError, match="3 but the Ray cluster has 2 CPUs"):
        RayPsiCompute(3, cluster)  # actors that could never be placed: refused at once, not a hang
    # Both parties share this one cluster's two CPUs here (two actors); in a deployment each has its own.
    with RayPsiCompute(2, cluster) as on_ray:
        on_leader = on_follower = on_ray
        # The same rng draws the same secret and order: the points each side sends are the same bytes too.
        key = BlindingKey.generate(random.Random(7))
        points = IdSet.build(leader_ids, rng=random.Random(8), hasher=on_leader.hasher).points.tobytes()
        assert points == IdSet.build(leader_ids, rng=random.Random(8)).points.tobytes()
        with on_leader.blinding(key) as blinder:
            batches = [points[i:i + 9600] for i in range(0, len(points), 9600)]
            assert list(blinder.map(batches)) == [key.blind(b) for b in batches]
            with pytest.raises(InvalidPointError) as caught:
                list(blinder.map([hash_to_u("fine") * 3 + bytes(32)]))
            assert caught.value.index == 3
        spread = _psi_pair(leader_ids, follower_ids, on_leader, on_follower)
    for mine, theirs in zip(local, spread, strict=True):
        assert (mine.size, mine.intersection, mine.duplicates_dropped) == (theirs.size, theirs.intersection,
                                                                            theirs.duplicates_dropped)
    assert spread[0].size == 801 and spread[0].intersection == sorted(set(leader_ids) & set(follower_ids))


class _Stop(Exception):
    """A side stopping after a round, as a killed node would (its journal holds the rounds before)."""


def _journalled_pair(tmp: Path, leader_ids: list[str], follower_ids: list[str], compute, *, stop_after: int = 0,
                     resume_from: int = 0) -> tuple[list[object], InMemoryHub]:
    """Both sides on the cluster with journals under `tmp`, each with its own seeded rng (a resumed run reads
    its secret and order from the journal, not from the rng)."""
    hub = InMemoryHub(("platform/main", "source/tax"))
    out: dict[str, object] = {}

    def stop(rounds: int) -> None:
        if stop_after and rounds == stop_after:
            raise _Stop(rounds)

    def run(name: str, call) -> None:
        try:
            out[name] = call()
        except Exception as exc:  # handed to the test
            out[name] = exc

    common = {"batch_size": 300, "compute": compute, "timeout": 120, "resume_from": resume_from, "on_round": stop}
    thread = threading.Thread(target=run, args=("follower", lambda: run_psi_follower(
        hub.channel("source/tax"), "platform/main", follower_ids, reveal_to_me=True, rng=random.Random(2),
        journal=PsiJournal(tmp / "follower"), **common)), daemon=True)
    thread.start()
    run("leader", lambda: run_psi_leader(hub.channel("platform/main"), "source/tax", leader_ids, reveal_to_peer=True,
                                         rng=random.Random(1), journal=PsiJournal(tmp / "leader"), **common))
    thread.join(120)
    return [out["leader"], out["follower"]], hub


def test_a_psi_on_two_nodes_resumes_from_its_journals_with_the_same_messages(cluster: str, tmp_path: Path) -> None:
    from federation.psi.ray_compute import RayPsiCompute

    leader_ids = [f"91{n:016d}" for n in range(1500)]
    follower_ids = [f"91{n:016d}" for n in range(900, 2700)]
    with RayPsiCompute(2, cluster) as on_ray:
        whole, whole_hub = _journalled_pair(tmp_path / "whole", leader_ids, follower_ids, on_ray)
        stopped, _ = _journalled_pair(tmp_path / "cut", leader_ids, follower_ids, on_ray, stop_after=3)
        assert all(isinstance(value, _Stop) for value in stopped), stopped
        resumed, resumed_hub = _journalled_pair(tmp_path / "cut", leader_ids, follower_ids, on_ray, resume_from=3)
    for got, want in zip(resumed, whole, strict=True):
        assert got.size == want.size == 600 and got.intersection == want.intersection
    # The same rng seeds the whole run and the stopped one: a message the resumed run sends (again) carries
    # the bytes the uninterrupted run sent under that tag, and no blinded batch before round 3 goes out.
    sent = {tag: payload for _, _, tag, payload in whole_hub.wire}
    again = [(tag, payload) for _, _, tag, payload in resumed_hub.wire]
    assert again and all(sent[tag] == payload for tag, payload in again)
    assert min(int(tag.rsplit("/", 1)[1]) for tag, _ in again if "/blinded/" in tag) == 3
