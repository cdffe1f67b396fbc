"""Hosts on a slow network for the sandbox: each party in its own network namespace, behind its own link.

Every party gets a namespace with one veth pair to this machine's namespace (the hub): a /30 from the
benchmarking range 198.18.0.0/15 (RFC 2544), `tc ... tbf` on both ends capping the link's bandwidth, and one
route, to the hub's own address (on an interface of its own). The parties cannot reach each other directly, whatever
the host's forwarding settings: each one's advertised address is a port of the delaying relay
(`sandbox.relay`) on the hub's address, so every connection, between parties or from a client on the hub
(operator, bank), crosses two links and the relay's round trip. This
kernel has no `netem`, hence the relay; it delays per chunk, not per packet (see `sandbox.relay`).

`SlowNetwork` is a `NodePlacement` for `sandbox.launcher.LocalFederation`: it says where each node listens,
what it advertises and how its process is started (`ip netns exec`). Needs root; `unavailable_reason()`
says why not when it cannot work here. Everything it creates is removed on exit, also after a failure.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cli.parent_watch import PARENT_PID_ENV
from errors import Unavailable

GRPC_PORT = 7000  # inside each namespace, where the node's gRPC server listens
API_PORT = 8443   # inside the platform's namespace, the bank API
COMMAND_TIMEOUT = 15.0
_BENCHMARK_NET = "198.18"  # RFC 2544: 198.18.0.0/15, reserved for benchmarking


class NetworkSetupFailed(Unavailable):
    """A namespace, link or queueing discipline could not be created (or the relay did not start)."""


def _run(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkSetupFailed(f"{' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise NetworkSetupFailed(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def unavailable_reason() -> str | None:
    """Why namespaces, veth links and `tbf` cannot be used here (None when they can): tried, then removed."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    probe = f"xyd-probe-{uuid.uuid4().hex[:8]}"
    try:
        _run("ip", "netns", "add", probe)
        _run("ip", "-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
        _run("tc", "-n", probe, "qdisc", "add", "dev", "p0", "root", "tbf", "rate", "100mbit", "burst", "256kb",
             "latency", "50ms")
    except NetworkSetupFailed as exc:
        return f"network namespaces with tbf links are not permitted here: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=COMMAND_TIMEOUT, check=False)
    return None


@dataclass(frozen=True)
class NamespaceHost:
    """One party's namespace and link: `outer_ip` on the hub's end (where the relay listens for it),
    `inner_ip` the party's own address inside `netns`."""

    party: str
    netns: str
    outer_if: str
    inner_if: str
    outer_ip: str
    inner_ip: str


def _used_third_octets() -> set[int]:
    used = set()
    for line in _run("ip", "-o", "-4", "addr", "show").splitlines():
        for word in line.split():
            if word.startswith(_BENCHMARK_NET + "."):
                used.add(int(word.split(".")[2]))
    return used


@dataclass
class SlowNetwork:
    """Namespaces, capped links and the relay for `parties`; a context manager that removes them all.

    `rtt_ms` is the round trip between any two parties (and between a hub client and a party); `rate_mbit`
    caps each party's link in each direction (None: no cap). `services` names extra ports per party
    (`{"platform/main": {"api": 8443}}`); every party has `grpc` on `GRPC_PORT`.
    """

    parties: Sequence[str]
    rtt_ms: float
    rate_mbit: float | None = 100.0
    services: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    hosts: dict[str, NamespaceHost] = field(init=False, default_factory=dict)
    hub_ip: str = field(init=False, default="")  # where the relay listens, on the interface `xyd<run>hub`
    relayed: dict[str, str] = field(init=False, default_factory=dict)  # "party/service" -> relay host:port
    _relay: subprocess.Popen | None = field(init=False, default=None)
    _created: list[str] = field(init=False, default_factory=list)
    _created_hub: bool = field(init=False, default=False)

    @property
    def _hub_if(self) -> str:
        return f"xyd{self.run_id}hub"

    def __post_init__(self) -> None:
        if len(self.parties) > 63:
            raise ValueError("at most 63 parties fit one /24 of /30 links")

    # -- set-up and tear-down

    def start(self) -> None:
        """Create every namespace and link, then start the relay; on failure remove what was made."""
        try:
            octet = random.choice(sorted(set(range(256)) - _used_third_octets()))
            self.hub_ip = f"{_BENCHMARK_NET}.{octet}.254"
            # A veth pair left in this namespace stands in for a dummy interface (no such module here).
            _run("ip", "link", "add", self._hub_if, "type", "veth", "peer", "name", f"xyd{self.run_id}hup")
            self._created_hub = True
            _run("ip", "addr", "add", f"{self.hub_ip}/32", "dev", self._hub_if)
            _run("ip", "link", "set", self._hub_if, "up")
            for index, party in enumerate(self.parties):
                self._add_host(index, party, octet)
            self._start_relay()
        except BaseException:
            self.stop()
            raise

    def _add_host(self, index: int, party: str, octet: int) -> None:
        host = self.hosts[party] = NamespaceHost(
            party=party, netns=f"xyd-{self.run_id}-{index}",
            outer_if=f"xyd{self.run_id}h{index}", inner_if=f"xyd{self.run_id}n{index}",
            outer_ip=f"{_BENCHMARK_NET}.{octet}.{4 * index + 1}", inner_ip=f"{_BENCHMARK_NET}.{octet}.{4 * index + 2}",
        )
        _run("ip", "netns", "add", host.netns)
        self._created.append(host.netns)
        # Made inside the namespace and its outer end moved out: deleting the namespace removes both ends.
        _run("ip", "-n", host.netns, "link", "add", host.inner_if, "type", "veth", "peer", "name", host.outer_if)
        _run("ip", "-n", host.netns, "link", "set", host.outer_if, "netns", str(os.getpid()))
        _run("ip", "addr", "add", f"{host.outer_ip}/30", "dev", host.outer_if)
        _run("ip", "link", "set", host.outer_if, "up")
        _run("ip", "-n", host.netns, "addr", "add", f"{host.inner_ip}/30", "dev", host.inner_if)
        _run("ip", "-n", host.netns, "link", "set", host.inner_if, "up")
        _run("ip", "-n", host.netns, "link", "set", "lo", "up")
        _run("ip", "-n", host.netns, "route", "add", f"{self.hub_ip}/32", "via", host.outer_ip)
        if self.rate_mbit is not None:
            tbf = ["root", "tbf", "rate", f"{self.rate_mbit:g}mbit", "burst", "256kb", "latency", "100ms"]
            _run("tc", "qdisc", "add", "dev", host.outer_if, *tbf)
            _run("tc", "-n", host.netns, "qdisc", "add", "dev", host.inner_if, *tbf)

    def _routes(self) -> list[str]:
        routes = []
        for party, host in self.hosts.items():
            for service, port in {"grpc": GRPC_PORT, **self.services.get(party, {})}.items():
                routes.append(f"{party}/{service}={self.hub_ip}:0={host.inner_ip}:{port}")
        return routes

    def _start_relay(self) -> None:
        command = [sys.executable, "-m", "sandbox.relay", "--delay-ms", f"{self.rtt_ms / 2:g}"]
        for route in self._routes():
            command += ["--route", route]
        self._relay = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       env={**os.environ, PARENT_PID_ENV: str(os.getpid())})
        with selectors.DefaultSelector() as selector:
            selector.register(self._relay.stdout, selectors.EVENT_READ)
            if not selector.select(COMMAND_TIMEOUT):
                raise NetworkSetupFailed(f"the relay did not start within {COMMAND_TIMEOUT:.0f}s")
        line = self._relay.stdout.readline()
        if not line:
            self._relay.wait(timeout=COMMAND_TIMEOUT)
            raise NetworkSetupFailed(f"the relay exited: {self._relay.stderr.read().strip()[-500:]}")
        self.relayed = json.loads(line)

    def stop(self) -> None:
        """Stop the relay and delete every namespace this network made (their links go with them)."""
        if self._relay is not None and self._relay.poll() is None:
            os.killpg(self._relay.pid, signal.SIGTERM)
            try:
                self._relay.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._relay.pid, signal.SIGKILL)
                self._relay.wait(timeout=5)
        if self._relay is not None:
            for stream in (self._relay.stdout, self._relay.stderr):
                if stream is not None:
                    stream.close()
        self._relay = None
        # The link first: a namespace is destroyed in the background once nothing holds it, taking its links
        # with it, while deleting one end of a veth pair removes both ends at once.
        for host in self.hosts.values():
            subprocess.run(["ip", "link", "del", host.outer_if], capture_output=True, timeout=COMMAND_TIMEOUT,
                           check=False)
        for netns in reversed(self._created):
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=COMMAND_TIMEOUT, check=False)
        self._created.clear()
        if self._created_hub:
            subprocess.run(["ip", "link", "del", self._hub_if], capture_output=True, timeout=COMMAND_TIMEOUT,
                           check=False)
            self._created_hub = False

    def __enter__(self) -> SlowNetwork:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- NodePlacement (sandbox.launcher)

    def address(self, party: str, service: str = "grpc") -> str:
        """Where everyone else dials `party`'s `service`: its relay port on the hub."""
        return self.relayed[f"{party}/{service}"]

    def listen(self, party: str) -> str:
        return f"0.0.0.0:{GRPC_PORT}"

    def advertise(self, party: str) -> str | None:
        return self.address(party)

    def reach(self, party: str, bound: str) -> str:
        return self.address(party)

    def api_bind(self, party: str) -> tuple[str, int]:
        return "0.0.0.0", self.services.get(party, {}).get("api", API_PORT)

    def reach_api(self, party: str, bound_url: str) -> str:
        return f"http://{self.address(party, 'api')}"

    def command_prefix(self, party: str) -> list[str]:
        return ["ip", "netns", "exec", self.hosts[party].netns]
