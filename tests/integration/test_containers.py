"""The whole federation in containers (docker/kube/federation.yaml through `podman kube play`): each node its
own pod with its own address on a network of its own, keys and data in volumes, PKI from the init step, the
platform's stores on PostgreSQL. Each source unit's administrator keeps its approval key on this host and gives
its node only the public half and the catalogue (the unit's governance volume); the operator files the job's
project with `xyd approval request` and each administrator approves it with `xyd approval approve` on its node's
admin endpoint. PSI, SecureBoost and bank scoring then run across them; then it is all removed.

Slow (minutes): run by `make test-containers`, which builds the images first (`make images`); skipped unless
XYD_CONTAINER_TESTS=1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from cli.operator_client import CoordinatorClient, OperatorConfig, stage_results
from consent.governance import create_approval_key
from sandbox.containers import NODE_PODS, ContainerFederation, unavailable_reason, wait_until
from sandbox.governance import ApprovalPlan, catalogue_items, catalogue_toml, request_terms
from sandbox.synthdata import generate

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]
if os.environ.get("XYD_CONTAINER_TESTS") != "1":
    pytest.skip("containers: run `make test-containers` (XYD_CONTAINER_TESTS=1)", allow_module_level=True)
REASON = unavailable_reason()
if REASON is not None:
    pytest.fail(f"containers: {REASON}", pytrace=False)

SOURCES = {"tax": "tax", "social-insurance": "social_insurance", "utilities": "utilities"}  # pod -> unit
CONFIG = "/etc/xyd/config/node.toml"
PROJECT = "containers"  # the job's `[job] project`, which every unit's administrator approves


def _say(text: str) -> None:
    print(f"[containers] {text}", file=sys.stderr, flush=True)


@dataclass
class Deployment:
    fed: ContainerFederation
    operator: Path  # the operator's file on this host
    work: Path
    admin_keys: dict[str, Path]  # pod -> its unit administrator's private approval key, on this host only
    catalogues: dict[str, list[dict[str, str]]]  # pod -> its unit's catalogue items
    timings: dict[str, float]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("containers")
    data = work / "data"
    generate(1000, 7, data)
    volumes = {"platform-data": {"schema.toml": data / "platform.toml", "table.csv": data / "platform.csv"}}
    admin_keys, catalogues = {}, {}
    for pod, unit in SOURCES.items():
        volumes[f"{pod}-data"] = {"schema.toml": data / f"{unit}.toml", "table.csv": data / f"{unit}.csv"}
        # The unit's administrator: its key stays here; the node gets the public half and the catalogue.
        admin = work / "admins" / pod
        admin.mkdir(parents=True)
        create_approval_key(admin / "approval.key", admin / "approval.pub")
        catalogues[pod] = catalogue_items(data / f"{unit}.toml")
        (admin / "catalogue.toml").write_text("\n".join(catalogue_toml(catalogues[pod])), encoding="utf-8")
        admin_keys[pod] = admin / "approval.key"
        volumes[f"{pod}-governance"] = {name: admin / name for name in ("approval.pub", "catalogue.toml")}
    fed = ContainerFederation(volumes)
    timings: dict[str, float] = {}
    try:
        started = time.monotonic()
        fed.up(work)
        timings["kube_play_s"] = time.monotonic() - started
        operator = _operator_config(fed, work)
        with CoordinatorClient(OperatorConfig.load(operator)) as client:
            expected = {"platform/main", *(f"source/{u}" for u in SOURCES.values())}
            wait_until(lambda: expected <= {n.party for n in _nodes(client)}, 300, "every node registered", 2.0)
        timings["federation_ready_s"] = time.monotonic() - started
        _say(f"federation up: kube play {timings['kube_play_s']:.0f} s, all registered after "
             f"{timings['federation_ready_s']:.0f} s")
        yield Deployment(fed, operator, work, admin_keys, catalogues, timings)
    except BaseException:
        for pod in ("pki", "postgres", *NODE_PODS):
            for container in (("provision", "show") if pod == "pki" else ("db",) if pod == "postgres" else ("node",)):
                _say(f"--- {pod}/{container}:\n{fed.logs(pod, container)}")
        raise
    finally:
        started = time.monotonic()
        problems = fed.down()
        _say(f"taken down in {time.monotonic() - started:.0f} s")
        assert not problems, problems
        assert not fed.leftovers(), fed.leftovers()


def _nodes(client: CoordinatorClient) -> list:
    try:
        return list(client.nodes())
    except Exception:  # the coordinator may still be starting
        return []


def _operator_config(fed: ContainerFederation, work: Path) -> Path:
    """The operator's file on this host: the admin certificate the init step issued, the coordinator's address."""
    keys = work / "operator-pki"
    keys.mkdir()
    wait_until(lambda: (fed.volume_path("operator-pki") / "key.pem").exists(), 60, "operator certificate")
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (keys / name).write_bytes((fed.volume_path("operator-pki") / name).read_bytes())
    path = work / "operator.toml"
    path.write_text(f'[coordinator]\naddress = "{fed.address("coordinator")}:7000"\n[tls]\nca = "{keys}/ca.pem"\n'
                    f'cert = "{keys}/cert.pem"\nkey = "{keys}/key.pem"\n', encoding="utf-8")
    return path


def test_every_node_is_its_own_host_and_advertises_its_name(deployment: Deployment) -> None:
    fed, operator = deployment.fed, deployment.operator
    with CoordinatorClient(OperatorConfig.load(operator)) as client:
        registered = {n.party: n.address for n in client.nodes()}
    assert registered == {"platform/main": f"{fed.name('platform')}:7000",
                          **{f"source/{u}": f"{fed.name(pod)}:7000" for pod, u in SOURCES.items()}}
    addresses = {pod: fed.address(pod) for pod in NODE_PODS}
    assert len(set(addresses.values())) == len(NODE_PODS), addresses


def test_health_checks_pass_and_processes_run_unprivileged(deployment: Deployment) -> None:
    fed = deployment.fed
    for pod in NODE_PODS:
        wait_until(lambda pod=pod: fed.healthy(pod), 120, f"{pod} healthy", 3.0)
        assert fed.exec(pod, ["id", "-u"]).stdout.strip() == "10001"
    assert fed.healthy("postgres", "db")


def test_each_node_holds_only_its_own_key(deployment: Deployment) -> None:
    fed = deployment.fed
    for pod in NODE_PODS:
        listing = fed.exec(pod, ["ls", "/etc/xyd/pki"]).stdout.split()
        assert {"ca.pem", "cert.pem", "key.pem", "crl.pem"} <= set(listing), (pod, listing)
        assert "ca-key.pem" not in listing
        subject = fed.exec(pod, ["python", "-c", "from cryptography import x509; print(x509.load_pem_x509_certificate("
                                 "open('/etc/xyd/pki/cert.pem','rb').read()).extensions.get_extension_for_class("
                                 "x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))"]).stdout
        assert fed.name(pod) in subject, (pod, subject)
    for pod in SOURCES:  # the approval key's public half only: its private half never leaves the administrator
        assert fed.exec(pod, ["ls", "/etc/xyd/governance"]).stdout.split() == ["approval.pub", "catalogue.toml"]


def _xyd(*args: str) -> str:
    """`xyd ARGS` on this host (the operator's or an administrator's machine); its output, or the test fails."""
    done = subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def approved(deployment: Deployment) -> dict[str, str]:
    """The operator files the project for each unit; each unit's administrator approves it on its own node."""
    fed, operator, work = deployment.fed, str(deployment.operator), deployment.work
    parties = [*(f"source/{u}" for u in SOURCES.values()), "coordinator/main"]
    plan = ApprovalPlan(project=PROJECT, description="credit-risk model of the container test")
    approvals = {}
    for pod, unit in SOURCES.items():
        terms = request_terms(f"source/{unit}", plan, catalogue=deployment.catalogues[pod], counterparties=parties,
                              requested_by="admin/operator")
        request = work / f"request-{pod}.json"
        request.write_text(json.dumps(terms), encoding="utf-8")
        output = _xyd("approval", "request", str(request), "--operator", operator)
        filed = re.search(r"filed (apv-[0-9a-f]{32}) ", output)
        assert filed is not None, output
        approvals[pod] = filed[1]
    for pod, approval_id in approvals.items():
        admin = ["--admin", fed.admin_url(pod), "--key", str(deployment.admin_keys[pod])]
        listed = _xyd("approval", "list", *admin)  # pulls the new request from the coordinator
        assert re.search(rf"{approval_id}\s+REQUESTED\s+{PROJECT}", listed), listed
        assert _xyd("approval", "approve", approval_id, *admin).strip().endswith(f"{approval_id}: APPROVED")
    with CoordinatorClient(OperatorConfig.load(deployment.operator)) as client:
        wait_until(lambda: {a.approval_id: a.status for a in client.approvals(project=PROJECT)}
                   == dict.fromkeys(approvals.values(), "APPROVED"), 60, "the approvals reported to the coordinator")
    return approvals


def test_an_administrator_endpoint_refuses_another_units_key(deployment: Deployment, approved: dict[str, str]) -> None:
    from cli.source_admin_client import AdminClient, AdminError
    from consent.governance import load_approval_private_key

    with AdminClient(deployment.fed.admin_url("tax"), load_approval_private_key(deployment.admin_keys["utilities"])
                     ) as stranger, pytest.raises(AdminError) as refused:
        stranger.show(approved["tax"])
    assert refused.value.status == 401


def _job() -> str:
    passive = ", ".join(f'"source/{u}"' for u in SOURCES.values())
    return (f'[job]\nname = "containers"\nproject = "{PROJECT}"\nstages = ["psi", "train", "evaluate", "publish"]\n[parties]\n'
            f'active = "platform/main"\npassive = [{passive}]\n[psi]\nreveal = "both"\n[train]\n'
            f'algorithm = "secureboost"\nn_trees = 3\nmax_depth = 3\nbins = 16\nkey_bits = 2048\n')


@pytest.fixture(scope="module")
def trained(deployment: Deployment, approved: dict[str, str]) -> dict:
    fed, operator, timings = deployment.fed, deployment.operator, deployment.timings
    started = time.monotonic()
    with CoordinatorClient(OperatorConfig.load(operator)) as client:
        job = client.submit(_job())
        list(client.watch(job, timeout=900))
        status = client.status(job)
    if status.state != "SUCCEEDED":
        for pod in NODE_PODS:
            _say(f"--- {pod}:\n{fed.logs(pod)}")
    assert status.state == "SUCCEEDED", status.error
    timings["secureboost_job_s"] = time.monotonic() - started
    _say(f"PSI + SecureBoost + evaluate + publish in {timings['secureboost_job_s']:.0f} s")
    return stage_results(status)


def test_psi_and_secureboost_across_the_containers(trained: dict) -> None:
    sizes = trained["psi"]
    assert all(sizes[f"source/{u}"]["intersection"] > 0 for u in SOURCES.values()), sizes
    metrics = json.dumps(trained["evaluate"])
    assert "auc" in metrics.lower(), metrics


def test_a_bank_scores_over_http_and_the_use_lands_in_postgresql(deployment: Deployment, trained: dict) -> None:
    fed, timings = deployment.fed, deployment.timings
    added = fed.exec("platform", ["xyd", "institution", "add", "--config", CONFIG, "--kind", "bank", "--slug",
                                  "container-bank", "--name", "Container Bank", "--role", "bank"])
    key = json.loads(added.stdout.strip().splitlines()[-1])["api_key"]
    now = datetime.now(UTC)
    fed.exec("platform", ["xyd", "institution", "agreement", "--config", CONFIG, "bank/container-bank", "--scope",
                          "BULK_SCORING", "--reference", "DSA-C-1", "--not-before", (now - timedelta(days=1)).isoformat(),
                          "--not-after", (now + timedelta(days=30)).isoformat()])
    platform_table = fed.volume_path("platform-data") / "table.csv"
    codes = sorted(pd.read_csv(platform_table, usecols=["credit_code"], dtype=str)["credit_code"])
    url = f"http://{fed.address('platform')}:8443"
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60.0) as http:
        latencies, scores = [], []
        for i, code in enumerate(codes[:20]):
            started = time.perf_counter()
            reply = http.post("/v1/scores", json={"credit_code": code, "purpose": "PRE_LOAN_REVIEW",
                                                  "loan_application_ref": f"C-{i}"})
            latencies.append(time.perf_counter() - started)
            assert reply.status_code == 200, reply.text
            scores.append(reply.json())
        batch = http.post("/v1/scores/batch", json={"credit_codes": codes[:200], "purpose": "PRE_LOAN_REVIEW",
                                                    "loan_application_ref": "C-BATCH"})
    assert batch.status_code == 200, batch.text
    assert all("score" in json.dumps(s) for s in scores)
    timings["score_median_ms"] = 1000 * sorted(latencies)[len(latencies) // 2]
    _say(f"20 single scores, median {timings['score_median_ms']:.0f} ms; timings {timings}")
    uses = fed.exec("postgres", ["psql", "-U", "postgres", "-d", "xyd_api", "-tAc", "SELECT count(*) FROM platform_uses"],
                    container="db").stdout.strip()
    assert int(uses) > 20  # the uses are recorded in PostgreSQL: the 20 single scores and the batch
    assert not list(fed.volume_path("platform-state").rglob("*.db"))  # no SQLite store on the platform
