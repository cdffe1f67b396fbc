"""A party in its own OS process for transport tests: serves mTLS, echoes what it receives, then exits.

Run as `python -m tests.federation.peer_process --pki DIR --me source/tax --peer platform/main=ADDR --job J
--count N`. It prints `PORT <n>` once serving, then for each i < N receives `ping/i` from the peer and
answers `pong/i` with the payload reversed; it exits 0 after the last answer (or 1 on any error).
"""

from __future__ import annotations

import argparse
import sys

from federation.grpc_channel import GrpcChannel
from federation.pki import Identity, NodeTls
from federation.proto import transport_pb2
from federation.server import NodeServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pki", required=True)
    parser.add_argument("--me", required=True)
    parser.add_argument("--peer", required=True, help="PARTY=HOST:PORT")
    parser.add_argument("--job", required=True)
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args(argv)
    tls = NodeTls.load_issued(args.pki, Identity.parse(args.me))
    peer, address = args.peer.split("=", 1)
    server = NodeServer(tls)
    try:
        server.start()
        mailbox = server.mailboxes.open(args.job, {peer})
        print(f"PORT {server.port}", flush=True)
        with GrpcChannel(args.me, args.job, {peer: address}, tls, mailbox) as channel:
            for i in range(args.count):
                ping = channel.recv(peer, f"ping/{i}", transport_pb2.Frame, timeout=30)
                channel.send(peer, f"pong/{i}", transport_pb2.Frame(chunk=ping.chunk[::-1]))
        return 0
    finally:
        server.stop(1.0)


if __name__ == "__main__":
    sys.exit(main())
