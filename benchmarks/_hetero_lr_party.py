"""One party of the hetero-LR benchmark as its own OS process: `python -m benchmarks._hetero_lr_party ...`.

Roles: guest (platform/main: labels and its features), host (source/hostK: features), arbiter
(coordinator/main: the CKKS secret key). Protocol with the parent, one JSON line each way: the child
prints {"address"}, reads {"peers": {party: address}}, optionally runs federated WOE binning, trains,
answers the guest's prediction of the training rows, prints its report, then waits for {"stop"}.
Each party saves the training matrix it used as .npy in the work directory, only so that the parent can
fit the scikit-learn baseline on the same (joined) data. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from google.protobuf.message import Message

from benchmarks._party_process import PeakMemory, cpu_seconds
from federation.channel import Channel, M
from federation.grpc_channel import GrpcChannel
from federation.pki import Identity, NodeTls
from federation.server import NodeServer
from models.he import ObfuscatorPool, PaillierKeypair, PaillierParams
from models.hetero_lr import (
    ArbiterPolicy,
    HeteroLrParams,
    HostPolicy,
    predict_guest,
    run_arbiter,
    run_guest,
    run_host,
    serve_predict,
)
from models.metrics import auc
from models.woe import OwnerPolicy, WoeOptions, run_feature_owner, run_label_holder, woe_matrix

GUEST, ARBITER = "platform/main", "coordinator/main"
TIMEOUT = 900.0


def host_party(index: int) -> str:
    return f"source/host{index}"


class CountingChannel(Channel):
    """Counts the serialised bytes this party sends (payloads, before framing and TLS)."""

    def __init__(self, inner: Channel) -> None:
        self._inner = inner
        self.me = inner.me
        self.bytes_sent = 0

    @property
    def parties(self) -> tuple[str, ...]:
        return self._inner.parties

    def send(self, to: str, tag: str, message: Message) -> None:
        self.bytes_sent += message.ByteSize()
        self._inner.send(to, tag, message)

    def recv(self, frm: str, tag: str, message_type: type[M], timeout: float | None = None) -> M:
        return self._inner.recv(frm, tag, message_type, timeout)


def emit(payload: dict[str, Any]) -> None:
    print(json.dumps(payload), flush=True)


def log(role: str, message: str) -> None:
    print(f"[{role}] {message}", file=sys.stderr, flush=True)


def load(path: str, ids: list[str], id_col: str, label_col: str | None) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """This party's columns in the aligned id order (as PSI would produce it)."""
    frame = pd.read_csv(path)
    frame[id_col] = frame[id_col].astype(str)
    frame = frame.set_index(id_col).loc[ids]
    labels = frame.pop(label_col).to_numpy(dtype=np.float64) if label_col else None
    return {str(c): frame[c].to_numpy(dtype=np.float64) for c in frame.columns}, labels


def params_from(args: argparse.Namespace) -> HeteroLrParams:
    return HeteroLrParams(encrypted=not args.plain, batch_size=args.batch_size, max_epochs=args.epochs,
                          learning_rate=args.learning_rate, momentum=args.momentum, l2=args.l2, tol=0.0)


def run_guest_role(args: argparse.Namespace, channel: Channel, hosts: list[str], ids: list[str]) -> dict[str, Any]:
    features, labels = load(args.data, ids, args.id_col, args.label_col)
    assert labels is not None
    woe_seconds = 0.0
    if args.woe:
        started = time.perf_counter()
        keys = PaillierKeypair.generate(PaillierParams(key_bits=args.paillier_bits))
        with ObfuscatorPool(keys.secret.obfuscator_source(), workers=args.workers, capacity=len(ids)) as pool:
            result = run_label_holder(channel.scoped("bench/woe"), hosts, labels=labels, secret=keys.secret,
                                      options=WoeOptions(n_bins=args.bins), own_features=features,
                                      obfuscators=pool, timeout=TIMEOUT)
        woe_seconds = time.perf_counter() - started
        names, x = woe_matrix(result.own, features)
        log("guest", f"WOE in {woe_seconds:.1f}s; kept {len(names)} own variables; top IV "
                     f"{[(r.name or r.variable_id, round(r.iv, 3)) for r in result.reports[:5]]}")
    else:
        names, x = list(features), np.column_stack(list(features.values()))
    np.save(Path(args.workdir) / "guest.npy", x)
    np.save(Path(args.workdir) / "labels.npy", labels)
    started = time.perf_counter()
    trained = run_guest(channel.scoped("bench/lr"), hosts, ARBITER, labels=labels, features=x, variables=names,
                        params=params_from(args), timeout=TIMEOUT)
    train_seconds = time.perf_counter() - started
    log("guest", f"trained {trained.report.epochs} epochs in {train_seconds:.1f}s, "
                 f"loss {trained.report.losses[0]:.4f} -> {trained.report.losses[-1]:.4f}")
    probability = predict_guest(channel.scoped("bench/lr"), hosts, model=trained.model, features=x, first_row=0,
                                batch="train", timeout=TIMEOUT)
    return {"auc_train": auc(labels, probability), "train_seconds": train_seconds, "woe_seconds": woe_seconds,
            "epochs": trained.report.epochs, "losses": list(trained.report.losses), "guest_variables": len(names)}


def run_host_role(args: argparse.Namespace, channel: Channel, ids: list[str]) -> dict[str, Any]:
    features, _ = load(args.data, ids, args.id_col, None)
    if args.woe:
        result = run_feature_owner(channel.scoped("bench/woe"), GUEST, features=features,
                                   categories=channel.me.split("/")[1], policy=OwnerPolicy(n_bins=args.bins),
                                   timeout=TIMEOUT)
        names, x = woe_matrix(result.variables, features)
        if not names:
            log(channel.me, "no variable passed the IV threshold: training on all of them")
            names, x = woe_matrix(result.variables, features, selected_only=False)
    else:
        names, x = list(features), np.column_stack(list(features.values()))
    np.save(Path(args.workdir) / f"{channel.me.replace('/', '_')}.npy", x)
    model = run_host(channel.scoped("bench/lr"), GUEST, ARBITER, features=x, variables=names,
                     policy=HostPolicy(allow_plaintext=args.plain), timeout=TIMEOUT)
    serve_predict(channel.scoped("bench/lr"), GUEST, model=model, features=x, batch="train", timeout=TIMEOUT)
    return {"variables": len(names)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._hetero_lr_party")
    parser.add_argument("--role", choices=["guest", "host", "arbiter"], required=True)
    parser.add_argument("--index", type=int, default=0, help="host number")
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--pki", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--data", default="")
    parser.add_argument("--id-col", default="id")
    parser.add_argument("--label-col", default="y")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--learning-rate", type=float, default=0.3)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--woe", action="store_true")
    parser.add_argument("--bins", type=int, default=20)
    parser.add_argument("--paillier-bits", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--job", default="bench-hetero-lr")
    args = parser.parse_args(argv)
    hosts = [host_party(k) for k in range(args.hosts)]
    me = {"guest": GUEST, "arbiter": ARBITER, "host": host_party(args.index)}[args.role]
    tls = NodeTls.load_issued(Path(args.pki), Identity.parse(me))
    server = NodeServer(tls, allowed_roles={"platform", "source", "coordinator"})
    server.start()
    try:
        emit({"address": server.address})
        peers = json.loads(sys.stdin.readline())["peers"]
        grpc_channel = GrpcChannel(me, args.job, peers, tls, server.mailboxes.open(args.job, set(peers) - {me}))
        channel = CountingChannel(grpc_channel)
        try:
            grpc_channel.wait_for_peers(timeout=60)
            ids = Path(args.workdir, "ids.txt").read_text().split()
            memory = PeakMemory()
            cpu_before = cpu_seconds()
            started = time.perf_counter()
            if args.role == "guest":
                report = run_guest_role(args, channel, hosts, ids)
            elif args.role == "host":
                report = run_host_role(args, channel, ids)
            else:
                epochs = run_arbiter(channel.scoped("bench/lr"), GUEST, hosts,
                                     policy=ArbiterPolicy(allow_plaintext=args.plain), timeout=TIMEOUT)
                report = {"epochs": epochs}
            report.update(seconds=round(time.perf_counter() - started, 3), bytes_sent=channel.bytes_sent,
                          cpu_seconds=round(cpu_seconds() - cpu_before, 3), peak_rss_mb=memory.stop_mb())
        finally:
            grpc_channel.close()
        emit(report)
        sys.stdin.readline()  # the parent's stop line (or EOF)
    finally:
        server.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
