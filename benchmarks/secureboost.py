"""SecureBoost benchmark: `python -m benchmarks secureboost --guest G.csv --host H.csv [--host H2.csv ...]
--id-col id --label-col y --trees 30 --depth 3 --bins 32 --lr 0.3 [--key-bits 3072] [--scheme paillier|ou|plain]
[--transport grpc|inprocess]`.

With the default transport every party is its own OS process with its own NodeServer, talking mutual-TLS
gRPC on loopback: the guest (labels, private key) is the active party, each host a passive one. They run
PSI (the guest leads one PSI per host), train, store their model parts, then score the training rows by
distributed prediction. `train_seconds` runs from PSI start to the active part stored (key generation and
obfuscator pool start-up included). XGBoost `hist` with the same parameters on the joined data is timed in
the same run. This file is also the party program: `python -m benchmarks.secureboost party ...`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from google.protobuf.message import Message

from benchmarks._party_process import PartyProcess, PeakMemory
from federation.channel import Channel, M
from federation.grpc_channel import GrpcChannel
from federation.pki import CertificateAuthority, Identity, NodeTls
from federation.proto import secureboost_pb2 as pb
from federation.psi import run_psi_follower, run_psi_leader
from federation.server import NodeServer
from models.he import ObfuscatorPool, OUKeypair, OUParams, PaillierKeypair, PaillierParams
from models.metrics import auc
from models.secureboost import ActiveModel, FeatureTable, SecureBoostParams, run_active, run_passive
from models.secureboost.local import train_in_process
from models.secureboost.metrics import rmse
from models.secureboost.params import Objective
from models.secureboost.runner import predict_active, serve_predict

ACTIVE = "platform/main"
# Obfuscator workers yield to the parties' own protocol steps, which alternate on one core at a time.
POOL_NICENESS = 10


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class CountingChannel(Channel):
    """Counts the serialised bytes this party sends (the payloads that cross the wire)."""

    def __init__(self, inner: Channel) -> None:
        self._inner = inner
        self.me = inner.me
        self.sent = 0

    @property
    def parties(self) -> tuple[str, ...]:
        return self._inner.parties

    def send(self, to: str, tag: str, message: Message) -> None:
        self.sent += message.ByteSize()
        self._inner.send(to, tag, message)

    def recv(self, frm: str, tag: str, message_type: type[M], timeout: float | None = None) -> M:
        return self._inner.recv(frm, tag, message_type, timeout)


def load_table(path: str, id_col: str, label_col: str | None) -> tuple[list[str], FeatureTable, np.ndarray | None]:
    """Ids, features (every other column, as float) and labels (when this file holds them)."""
    frame = pd.read_csv(path)
    ids = frame[id_col].astype(str).tolist()
    labels = frame[label_col].to_numpy(np.float64) if label_col and label_col in frame else None
    columns = [c for c in frame.columns if c not in (id_col, label_col)]
    return ids, FeatureTable(tuple(columns), frame[columns].to_numpy(np.float64)), labels


def _keypair(scheme: str, key_bits: int, exponent_bits: int = 0) -> PaillierKeypair | OUKeypair:
    small = key_bits < 2048
    # 0 = the default: exponents of twice the key's security strength (docs/protocols/he.md 0); key_bits // 2
    # or more makes the key owner draw exponents uniform per CRT half.
    short = {"exponent_bits": exponent_bits} if exponent_bits else {}
    if scheme == "ou":
        # n = p^2 q with |p| = |q| = key_bits // 3: round up to a multiple of 3 so n has at least key_bits bits
        # (models.he rebuilds a received OU key's size as 3 * |p| and refuses anything under 2048).
        bits = -(-key_bits // 3) * 3
        return OUKeypair.generate(OUParams(key_bits=bits, allow_insecure_for_tests=small, **short))
    return PaillierKeypair.generate(PaillierParams(key_bits=key_bits, allow_insecure_for_tests=small, **short))


def exponent_setting(keys: PaillierKeypair | OUKeypair) -> str:
    """How the key owner's obfuscators were made, for the result line."""
    params = keys.public.params
    if params.short_exponents:
        return f"DJN exponents of {params.exponent_bits} bits (2 x {params.security_bits}-bit security)"
    return "uniform per CRT half"


def _pool_capacity(rows: int) -> int:
    # Four trees' worth, a whole number of worker batches: while PSI runs (one core per party, with waits)
    # the workers keep filling spare CPU instead of stopping at two trees (OU 2048: ~35 MB per tree).
    return max(256, -(-4 * rows // 256) * 256)


# ---- one party as its own process -------------------------------------------------------------------

def party_main(argv: list[str]) -> int:
    """A party process: print our address, read peers, PSI, train, store, score, print a result line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.secureboost party")
    parser.add_argument("--name", required=True)
    parser.add_argument("--pki", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--id-col", required=True)
    parser.add_argument("--label-col")
    parser.add_argument("--params", required=True)
    parser.add_argument("--scheme", default="paillier")
    parser.add_argument("--key-bits", type=int, default=PaillierParams().key_bits)
    parser.add_argument("--pool-workers", type=int, default=2)
    parser.add_argument("--pool-niceness", type=int, default=0)
    parser.add_argument("--exponent-bits", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--job", default="bench-secureboost")
    args = parser.parse_args(argv)
    active = args.name == ACTIVE
    tls = NodeTls.load_issued(Path(args.pki), Identity.parse(args.name))
    server = NodeServer(tls, allowed_roles={"platform", "source"})
    server.start()
    memory = PeakMemory()
    try:
        print(json.dumps({"address": server.address}), flush=True)
        peers = json.loads(sys.stdin.readline())["peers"]
        grpc_channel = GrpcChannel(args.name, args.job, peers, tls,
                                   server.mailboxes.open(args.job, set(peers) - {args.name}))
        channel = CountingChannel(grpc_channel)
        passives = sorted(p for p in peers if p != ACTIVE)
        params = SecureBoostParams.from_json(args.params)
        ids, table, labels = load_table(args.csv, args.id_col, args.label_col if active else None)
        try:
            grpc_channel.wait_for_peers(timeout=60)
            started = time.perf_counter()
            if active:
                result = _run_active_party(channel, passives, ids, table, labels, params, args, started)
            else:
                result = _run_passive_party(channel, ids, table, params, args, started)
        finally:
            grpc_channel.close()
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        result.update(bytes_sent=channel.sent, peak_rss_mb=memory.stop_mb(),
                      cpu_seconds=round(own.ru_utime + own.ru_stime, 1),
                      cpu_seconds_workers=round(children.ru_utime + children.ru_stime, 1))
        print(json.dumps(result), flush=True)
        sys.stdin.readline()  # the parent's stop line (or EOF)
    finally:
        server.stop(0)
    return 0


def _run_active_party(channel: CountingChannel, passives: list[str], ids: list[str], table: FeatureTable,
                      labels: np.ndarray, params: SecureBoostParams, args: argparse.Namespace, started: float
                      ) -> dict[str, Any]:
    keys = _keypair(args.scheme, args.key_bits, args.exponent_bits) if params.encryption else None
    # PSI may drop rows, never add any: rows x trees bounds the demand.
    pool = ObfuscatorPool(keys.secret.obfuscator_source(), capacity=_pool_capacity(len(ids)),
                          workers=args.pool_workers, limit=params.encryptions_needed(len(ids)),
                          niceness=args.pool_niceness) if keys is not None else None
    try:
        if pool is not None:
            pool.start()
        shared: set[str] | None = None
        for peer in passives:
            psi = run_psi_leader(channel.scoped(f"psi-{peer.replace('/', '-')}"), peer, ids, reveal_to_peer=True)
            found = set(psi.intersection or ())
            shared = found if shared is None else shared & found
        rows = sorted(shared or ())
        for peer in passives:
            channel.send(peer, "rows", pb.TrainRows(ids=rows))
        index = {e: i for i, e in enumerate(ids)}
        take = [index[e] for e in rows]
        psi_seconds = time.perf_counter() - started
        _log(f"[active] PSI: {len(rows)} shared rows in {psi_seconds:.1f}s")
        trees: list[float] = []

        def on_tree(record: Any) -> None:
            trees.append(time.perf_counter())
            _log(f"[active] tree {record.tree} done at {trees[-1] - started:.1f}s, splits {dict(record.splits)}")

        training = time.perf_counter()
        model = run_active(channel.scoped("train"), passives, params=params, labels=labels[take],
                           features=table.rows(take), secret=None if keys is None else keys.secret,
                           obfuscators=pool, on_tree=on_tree)
        per_tree = (time.perf_counter() - training) / max(1, len(trees))
    finally:
        if pool is not None:
            pool.close()
    Path(args.out, "active.model").write_bytes(model.to_bytes())
    train_seconds = time.perf_counter() - started
    model = ActiveModel.from_bytes(Path(args.out, "active.model").read_bytes())
    scored = time.perf_counter()
    outputs = predict_active(channel.scoped("score"), passives, model, table.rows(take), rows, batch="train")
    metric_name, metric = objective_metric(params, labels[take], outputs)
    return {"role": "active", "rows": len(rows), "psi_seconds": round(psi_seconds, 3),
            "metric_name": metric_name, "metric_federated": round(metric, 6),
            "obfuscator_exponents": None if keys is None else exponent_setting(keys),
            "train_seconds": round(train_seconds, 3), "trees": len(model.trees),
            "seconds_per_tree": round(per_tree, 3),
            "predict_seconds": round(time.perf_counter() - scored, 3)}


def _run_passive_party(channel: CountingChannel, ids: list[str], table: FeatureTable, params: SecureBoostParams,
                       args: argparse.Namespace, started: float) -> dict[str, Any]:
    me = channel.me
    run_psi_follower(channel.scoped(f"psi-{me.replace('/', '-')}"), ACTIVE, ids, reveal_to_me=True)
    rows = list(channel.recv(ACTIVE, "rows", pb.TrainRows, 600).ids)
    index = {e: i for i, e in enumerate(ids)}
    take = [index[e] for e in rows]
    model = run_passive(channel.scoped("train"), ACTIVE, features=table.rows(take),
                        allow_plaintext=not params.encryption, allow_insecure_for_tests=args.key_bits < 2048)
    Path(args.out, f"{me.replace('/', '-')}.model").write_bytes(model.to_bytes())
    seconds = time.perf_counter() - started
    serve_predict(channel.scoped("score"), ACTIVE, model, lambda wanted: table.rows([index[e] for e in wanted]),
                  batch="train")
    return {"role": "passive", "rows": len(rows), "seconds": round(seconds, 3), "rules": len(model.rules)}


def objective_metric(params: SecureBoostParams, labels: np.ndarray, outputs: np.ndarray) -> tuple[str, float]:
    """The headline training metric of an objective: AUC (binary), macro one-vs-rest AUC (softmax), RMSE."""
    if params.objective is Objective.MULTI_SOFTPROB:
        return "auc_ovr_macro", float(np.mean([auc(labels == k, outputs[:, k]) for k in range(params.num_class)]))
    if params.objective is Objective.SQUARED_ERROR:
        return "rmse", rmse(labels, outputs)
    return "auc", auc(labels, outputs)


# ---- the parent: spawn parties, collect, compare with XGBoost ------------------------------------------

def objective_table(guest: str, label_col: str, objective: str, out_dir: str) -> tuple[str, SecureBoostParams]:
    """The guest file for an objective, and its parameters. `multiclass`: graded outcomes from the guest's
    own data (0 repaid; defaulted with the first bill amount at or below the defaulters' median: 1, above:
    2); `regression`: the guest's last column (an amount) as the target, dropped from its features."""
    if objective == "binary":
        return guest, SecureBoostParams()
    frame = pd.read_csv(guest)
    if objective == "multiclass":
        bill = frame.iloc[:, 3]  # x1: the first bill amount in FATE's default_credit guest table
        cut = float(bill[frame[label_col] == 1].median())
        frame[label_col] = np.where(frame[label_col] == 0, 0, np.where(bill <= cut, 1, 2))
        params = SecureBoostParams(objective=Objective.MULTI_SOFTPROB, num_class=3)
    else:
        amount = frame.columns[-1]
        frame[label_col] = frame[amount]
        frame = frame.drop(columns=[amount])
        params = SecureBoostParams(objective=Objective.SQUARED_ERROR)
    path = str(Path(out_dir) / f"guest-{objective}.csv")
    frame.to_csv(path, index=False)
    return path, params


def xgboost_baseline(guest: str, hosts: Sequence[str], id_col: str, label_col: str, params: SecureBoostParams
                     ) -> tuple[str, float, float]:
    """Training metric and seconds of plaintext XGBoost `hist` with the same parameters on the joined data
    (softmax: multi-output trees, XGBoost's counterpart of ours; margins start where ours do)."""
    import xgboost as xgb

    joined = pd.read_csv(guest)
    for i, host in enumerate(hosts):
        frame = pd.read_csv(host)
        joined = joined.merge(frame.rename(columns={c: f"h{i}_{c}" for c in frame.columns if c != id_col}), on=id_col)
    y = joined[label_col].to_numpy(np.float64)
    X = joined.drop(columns=[id_col, label_col]).to_numpy(np.float64)
    data = xgb.DMatrix(X, label=y)
    extra: dict[str, Any] = {"objective": params.objective.value}
    if params.objective is Objective.MULTI_SOFTPROB:
        extra |= {"num_class": params.num_class, "multi_strategy": "multi_output_tree"}
        data.set_base_margin(np.zeros((y.size, params.num_class)))
    else:
        extra["base_score"] = float(np.mean(y))
    started = time.perf_counter()
    booster = xgb.train({"tree_method": "hist", "max_depth": params.max_depth, "eta": params.learning_rate,
                         "max_bin": params.bins, "lambda": params.reg_lambda, "gamma": params.gamma,
                         "min_child_weight": params.min_child_weight, **extra}, data, num_boost_round=params.n_trees)
    seconds = time.perf_counter() - started
    name, metric = objective_metric(params, y, booster.predict(data))
    return name, metric, seconds


def run_processes(args: argparse.Namespace, params: SecureBoostParams) -> dict[str, Any]:
    """Every party in its own process over mutual TLS; returns the merged measurements."""
    names = [ACTIVE] + [f"source/host{i}" for i in range(len(args.host))]
    files = dict(zip(names, [args.guest, *args.host], strict=True))
    with tempfile.TemporaryDirectory(prefix="xyd-bench-sb-") as tmp:
        ca = CertificateAuthority.create(Path(tmp) / "pki")
        for name in names:
            ca.issue(Identity.parse(name))
        parties = []
        try:
            for name in names:
                argv = ["--pki", str(Path(tmp) / "pki"), "--csv", files[name], "--id-col", args.id_col,
                        "--params", params.to_json(), "--scheme", args.scheme, "--key-bits", str(args.key_bits),
                        "--pool-workers", str(args.pool_workers), "--pool-niceness", str(args.pool_niceness),
                        "--out", tmp,
                        "--exponent-bits", str(args.exponent_bits)]
                if name == ACTIVE:
                    argv += ["--label-col", args.label_col]
                parties.append(PartyProcess(name, "benchmarks.secureboost", ["party", "--name", name, *argv]))
            addresses = {p.name: p.receive(120)["address"] for p in parties}
            for p in parties:
                p.tell({"peers": addresses})
            results = {p.name: p.receive(args.timeout) for p in parties}
        finally:
            for p in parties:
                p.finish()
    active = results[ACTIVE]
    return {**{k: active[k] for k in ("rows", "psi_seconds", "train_seconds", "trees", "seconds_per_tree",
                                      "predict_seconds", "metric_name", "metric_federated", "obfuscator_exponents")},
            "peak_rss_mb": round(sum(r["peak_rss_mb"] for r in results.values()), 1),
            "peak_rss_mb_by_party": {n: r["peak_rss_mb"] for n, r in results.items()},
            "cpu_seconds_by_party": {n: {"main": r["cpu_seconds"], "obfuscator_workers": r["cpu_seconds_workers"]}
                                     for n, r in results.items()},
            "bytes_sent_by_party": {n: r["bytes_sent"] for n, r in results.items()},
            "bytes_on_wire": sum(r["bytes_sent"] for r in results.values())}


def run_in_process(args: argparse.Namespace, params: SecureBoostParams) -> dict[str, Any]:
    """Every party in this process (threads over an in-memory hub); PSI replaced by an inner join."""
    memory = PeakMemory()
    gids, gtable, labels = load_table(args.guest, args.id_col, args.label_col)
    hosts = [load_table(h, args.id_col, None) for h in args.host]
    shared = set(gids).intersection(*(set(h[0]) for h in hosts))
    rows = sorted(shared)
    gindex = {e: i for i, e in enumerate(gids)}
    started = time.perf_counter()
    keys = _keypair(args.scheme, args.key_bits, args.exponent_bits) if params.encryption else None
    pool = ObfuscatorPool(keys.secret.obfuscator_source(), capacity=_pool_capacity(len(rows)),
                          workers=args.pool_workers, limit=params.encryptions_needed(len(rows)),
                          niceness=args.pool_niceness) if keys is not None else None
    passives = {}
    for i, (hids, htable, _) in enumerate(hosts):
        hindex = {e: j for j, e in enumerate(hids)}
        passives[f"source/host{i}"] = htable.rows([hindex[e] for e in rows])
    take = [gindex[e] for e in rows]
    try:
        if pool is not None:
            pool.start()
        result = train_in_process(params, labels[take], gtable.rows(take), passives,
                                  secret=None if keys is None else keys.secret, obfuscators=pool,
                                  allow_insecure_for_tests=args.key_bits < 2048, timeout=args.timeout)
    finally:
        if pool is not None:
            pool.close()
    train_seconds = time.perf_counter() - started
    masks = {p: m.leaf_masks(passives[p]) for p, m in result.passives.items()}
    metric_name, metric = objective_metric(params, labels[take], result.active.predict(gtable.rows(take), masks))
    return {"rows": len(rows), "train_seconds": round(train_seconds, 3), "trees": len(result.active.trees),
            "seconds_per_tree": round(train_seconds / len(result.active.trees), 3),
            "metric_name": metric_name, "metric_federated": round(metric, 6), "peak_rss_mb": memory.stop_mb(),
            "obfuscator_exponents": None if keys is None else exponent_setting(keys),
            "bytes_on_wire": result.bytes_on_wire()}


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks secureboost")
    parser.add_argument("--guest", required=True, help="CSV with ids, the label and the active party's features")
    parser.add_argument("--host", action="append", required=True, help="CSV of one passive party (repeatable)")
    parser.add_argument("--id-col", default="id")
    parser.add_argument("--label-col", default="y")
    parser.add_argument("--trees", type=int, default=30)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--bins", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--key-bits", type=int, default=PaillierParams().key_bits,
                        help="modulus size (default: the library's 128-bit default, 3072)")
    parser.add_argument("--scheme", choices=["paillier", "ou", "plain"], default="paillier")
    parser.add_argument("--transport", choices=["grpc", "inprocess"], default="grpc")
    parser.add_argument("--pool-workers", type=int, default=2, help="obfuscator worker processes (active party)")
    parser.add_argument("--pool-niceness", type=int, default=POOL_NICENESS,
                        help="scheduling niceness of the obfuscator workers (0: same priority as the parties)")
    parser.add_argument("--exponent-bits", type=int, default=0,
                        help="obfuscator exponent length (default 0: twice the key's security strength)")
    parser.add_argument("--objective", choices=["binary", "multiclass", "regression"], default="binary",
                        help="multiclass: 3 graded outcomes; regression: the guest's last column (objective_table)")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xyd-bench-sb-data-") as data_dir:
        args.guest, base = objective_table(args.guest, args.label_col, args.objective, data_dir)
        params = dataclasses.replace(base, n_trees=args.trees, max_depth=args.depth, bins=args.bins,
                                     learning_rate=args.lr, encryption=args.scheme != "plain")
        _log(f"secureboost benchmark: {args.transport}, {args.scheme} {args.key_bits} bits, {args.trees} trees, "
             f"{params.objective.value}")
        load_start = os.getloadavg()[0]
        measured = run_processes(args, params) if args.transport == "grpc" else run_in_process(args, params)
        _, metric_xgb, xgb_seconds = xgboost_baseline(args.guest, args.host, args.id_col, args.label_col, params)
    result = {"benchmark": "secureboost", "transport": args.transport, "scheme": args.scheme,
              "objective": params.objective.value, "key_bits": args.key_bits if params.encryption else 0,
              "n_trees": args.trees, "depth": args.depth, "bins": args.bins, "learning_rate": args.lr,
              "parties": 1 + len(args.host),
              "load_average_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)], **measured,
              "metric_xgboost": round(metric_xgb, 6),
              "metric_gap": round(abs(measured["metric_federated"] - metric_xgb), 6),
              "xgboost_seconds": round(xgb_seconds, 3)}
    if params.objective is Objective.BINARY_LOGISTIC:  # the names earlier runs and docs use
        result |= {"auc_train": result["metric_federated"], "auc_xgboost_train": result["metric_xgboost"],
                   "auc_gap": result["metric_gap"]}
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["party"]:
        sys.exit(party_main(sys.argv[2:]))
    print(json.dumps(main(sys.argv[1:]), sort_keys=True))
