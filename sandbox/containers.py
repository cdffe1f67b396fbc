"""The federation of `docker/kube/federation.yaml` in containers, for tests and trials: podman kube play.

`ContainerFederation` plays a copy of the manifest whose names all carry a run id (`xyd-` becomes
`xyd-<run>-`: pods, volumes, DNS names, certificate host names), on a network of its own, after filling the
volumes the data holders fill (each node's data; each source unit's governance: approval.pub, catalogue.toml);
`down()` removes every pod, volume and the network it made, also after a failure. Every podman call has a timeout. Podman reads the project's `docker/containers.conf` (runc, cgroupfs, lower rlimits).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from errors import Unavailable

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "docker" / "kube" / "federation.yaml"
CONTAINERS_CONF = ROOT / "docker" / "containers.conf"
IMAGES = ("localhost/xyd:latest", "localhost/xyd-postgres:15")
NODE_PODS = ("coordinator", "platform", "tax", "social-insurance", "utilities")
ADMIN_PORT = 7443  # a source node's administrator endpoint (`[governance] admin_listen` in the manifest)
_NAME = re.compile(r"(?<![\w/.-])xyd-")


class PodmanFailed(Unavailable):
    """A podman command failed or timed out; the message carries its command and error output."""


def podman(*args: str, timeout: float = 120.0, check: bool = True, stdin: bytes | None = None
           ) -> subprocess.CompletedProcess[str]:
    """Run `podman ARGS` with the project's containers.conf, bounded by `timeout` seconds."""
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    try:
        done = subprocess.run(["podman", *args], input=stdin, capture_output=True, timeout=timeout, env=env,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise PodmanFailed(f"podman {' '.join(args)}: no answer within {timeout:.0f}s") from exc
    result = subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                         done.stderr.decode(errors="replace"))
    if check and done.returncode != 0:
        raise PodmanFailed(f"podman {' '.join(args)} exited {done.returncode}: {result.stderr.strip()[-2000:]}")
    return result


def unavailable_reason() -> str | None:
    """Why the federation cannot run in containers here (None when it can)."""
    if shutil.which("podman") is None:
        return "podman is not installed (make images installs it)"
    try:
        for image in IMAGES:
            if podman("image", "exists", image, check=False, timeout=60).returncode != 0:
                return f"image {image} does not exist: run make images"
    except PodmanFailed as exc:
        return str(exc)
    return None


@dataclass
class ContainerFederation:
    """One run of the manifest; `up()` plays it, `down()` removes everything it made."""

    volumes: Mapping[str, Mapping[str, Path]]  # volume (`tax-data`) -> {file name in it: file on this host}
    manifest: Path = MANIFEST
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    played: Path | None = field(init=False, default=None)

    def name(self, short: str) -> str:
        """The run's name for a pod, volume or DNS name of the manifest (`coordinator` -> `xyd-<run>-coordinator`)."""
        return f"xyd-{self.run_id}-{short}"

    @property
    def network(self) -> str:
        return self.name("net")

    def render(self) -> str:
        """The manifest with every `xyd-` name given this run's id."""
        return _NAME.sub(f"xyd-{self.run_id}-", self.manifest.read_text(encoding="utf-8"))

    def fill_volume(self, volume: str, files: Mapping[str, Path]) -> None:
        """Create the volume and put `files` in it, readable by everyone (the nodes mount data read-only)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, path in files.items():
                info = tar.gettarinfo(str(path), arcname=name)
                info.mode, info.uid, info.gid = 0o644, 0, 0
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
        podman("volume", "create", volume)
        podman("volume", "import", volume, "-", stdin=buffer.getvalue())

    def up(self, workdir: Path, timeout: float = 900.0) -> None:
        """Fill the given volumes, create the network and play the manifest (init steps included)."""
        for volume, files in self.volumes.items():
            self.fill_volume(self.name(volume), files)
        podman("network", "create", self.network)
        self.played = workdir / f"federation-{self.run_id}.yaml"
        self.played.write_text(self.render(), encoding="utf-8")
        podman("kube", "play", "--network", self.network, str(self.played), timeout=timeout)

    def container(self, pod: str, name: str = "node") -> str:
        return f"{self.name(pod)}-{name}"

    def address(self, pod: str) -> str:
        """The pod's address on the run's network (this host reaches it over podman's bridge)."""
        found = podman("pod", "inspect", self.name(pod), "--format", "{{.InfraContainerID}}")
        networks = json.loads(podman("inspect", found.stdout.strip(), "--format",
                                     "{{json .NetworkSettings.Networks}}").stdout)
        return networks[self.network]["IPAddress"]

    def admin_url(self, pod: str) -> str:
        """A source node's administrator endpoint, on its pod's address (reached from this host)."""
        return f"http://{self.address(pod)}:{ADMIN_PORT}"

    def exec(self, pod: str, args: Sequence[str], timeout: float = 120.0, container: str = "node"
             ) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.container(pod, container), *args, timeout=timeout)

    def healthy(self, pod: str, container: str = "node") -> bool:
        """Run the container's health check now (podman schedules them through systemd, absent here)."""
        return podman("healthcheck", "run", self.container(pod, container), check=False, timeout=60).returncode == 0

    def volume_path(self, short: str) -> Path:
        """Where a volume of this run lives on this host (root only reads every one)."""
        return Path(podman("volume", "inspect", self.name(short), "--format", "{{.Mountpoint}}").stdout.strip())

    def logs(self, pod: str, container: str = "node", tail: int = 40) -> str:
        done = podman("logs", "--tail", str(tail), self.container(pod, container), check=False, timeout=60)
        return done.stdout + done.stderr

    def down(self) -> list[str]:
        """Remove the pods, every volume and the network of this run; returns what could not be removed."""
        problems = []
        if self.played is not None:
            try:
                podman("kube", "down", str(self.played), timeout=180, check=False)
            except PodmanFailed as exc:
                problems.append(str(exc))
        leftovers = (
            (("pod", "ls", "--format", "{{.Name}}"), ("pod", "rm", "--force", "--ignore")),
            (("ps", "-a", "--format", "{{.Names}}"), ("rm", "--force", "--ignore")),
            (("volume", "ls", "--format", "{{.Name}}"), ("volume", "rm", "--force")),
        )
        for listing, remove in leftovers:
            names = self._listed(*listing)
            if not names:
                continue
            try:
                done = podman(*remove, *names, timeout=180, check=False)
                if done.returncode != 0:
                    problems.append(done.stderr.strip())
            except PodmanFailed as exc:
                problems.append(str(exc))
        try:
            podman("network", "rm", "--force", self.network, timeout=60, check=False)
        except PodmanFailed as exc:
            problems.append(str(exc))
        return problems

    def _listed(self, *args: str) -> list[str]:
        try:
            names = podman(*args, timeout=60, check=False).stdout.split()
        except PodmanFailed:
            return []
        return [n for n in names if n.startswith(f"xyd-{self.run_id}-")]

    def leftovers(self) -> list[str]:
        """Pods, containers, volumes and networks of this run that still exist."""
        return [*self._listed("pod", "ls", "--format", "{{.Name}}"), *self._listed("ps", "-a", "--format", "{{.Names}}"),
                *self._listed("volume", "ls", "--format", "{{.Name}}"),
                *self._listed("network", "ls", "--format", "{{.Name}}")]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 1.0) -> None:
    """Poll `predicate` until it is true; raise `Unavailable` naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise Unavailable(f"{what} not within {timeout:.0f}s")
        time.sleep(interval)
