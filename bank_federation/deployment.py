"""A real Flower deployment on loopback: one `flower-superlink` (the aggregator, at the platform) and one
`flower-supernode` per bank, as separate processes, over TLS with SuperNode authentication, no runtime
dependency installation, every step bounded by a timeout and every process stopped on exit.
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bank_federation import tls
from bank_federation.server_app import REPORT_FILE
from errors import Unavailable
from models.horizontal import BankKeyring, CkksParams

APP_DIR = Path(__file__).resolve().parent / "app"
CONNECTION = "xyd-banks"
# prctl option (linux/prctl.h): orphaned descendants are re-parented to us instead of to init.
PR_SET_CHILD_SUBREAPER = 36


def _set_subreaper(on: bool) -> bool:
    """Adopt orphaned descendants while a deployment runs (Linux only; False where unavailable).

    A SuperNode that exits (e.g. refused by the SuperLink) leaves its `flower-superexec` behind, and that
    helper only watches its parent's pid; as our adoptee it can still be found and stopped.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class DeploymentError(Unavailable):
    """A deployment step failed or timed out; the message carries the tail of the relevant log."""


@dataclass(frozen=True)
class BankSpec:
    """A bank's SuperNode: its name and the path of its loan-book table."""

    name: str
    data_path: Path


def free_port() -> int:
    """A port the OS just handed out on loopback (bound to port 0, then released for the child)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string literal is a valid TOML basic string


class LoopbackDeployment:
    """Owns the processes and files of one deployment under `workdir`; use as a context manager."""

    def __init__(self, workdir: Path, banks: list[BankSpec], *, ckks: CkksParams | None = None,
                 step_timeout: float = 60.0) -> None:
        self.workdir = Path(workdir).resolve()
        self.banks = banks
        self.step_timeout = step_timeout
        self.logs = self.workdir / "logs"
        self.flwr_home = self.workdir / "flwr-home"
        self.port = free_port()
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._ckks = ckks
        self._bin = Path(sys.executable).parent
        self._ports = {self.port}
        self._adopting = False
        self.credentials: tls.DeploymentCredentials | None = None

    # -- life cycle -----------------------------------------------------------------------------
    def __enter__(self) -> LoopbackDeployment:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # SuperLink starts `flower-superexec` by name: the venv's bin directory must come first.
        env["PATH"] = f"{self._bin}{os.pathsep}{env.get('PATH', '')}"
        env["FLWR_HOME"] = str(self.flwr_home)
        env["FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION"] = "1"
        # SuperExec looks for new ServerApp/ClientApp tasks every second by default; rounds are short.
        env.setdefault("FLWR_SUPEREXEC_TASK_POLL_INTERVAL", "0.2")
        return env

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it for its lifetime
        proc = subprocess.Popen([str(self._bin / args[0]), *args[1:]], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=self._env(), cwd=self.workdir)
        log.close()
        self._processes.append((name, proc))
        return proc

    def _run(self, name: str, args: list[str], timeout: float) -> str:
        try:
            done = subprocess.run([str(self._bin / args[0]), *args[1:]], capture_output=True, env=self._env(),
                                  cwd=self.workdir, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise DeploymentError(f"{name} timed out after {timeout}s") from exc
        out = (done.stdout + done.stderr).decode(errors="replace")
        (self.logs / f"{name}.log").write_text(out)
        if done.returncode != 0:
            raise DeploymentError(f"{name} exited {done.returncode}:\n{out[-3000:]}")
        return out

    def start(self) -> None:
        """Credentials, keyring, Flower config; start the SuperLink; register and start each bank."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.flwr_home.mkdir(parents=True, exist_ok=True)
        self._adopting = _set_subreaper(True)
        self.credentials = tls.create(self.workdir / "tls", [b.name for b in self.banks])
        # One bank generates the shared keyring and hands it to the others out of band; here the
        # launcher plays that bank. The SuperLink side never receives it.
        keyring = BankKeyring.generate(self._ckks)
        for bank in self.banks:
            keyring.write(self.workdir / "banks" / bank.name / "keyring.json")
        (self.flwr_home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "127.0.0.1:{self.port}"\nroot-certificates = "{self.credentials.ca_cert}"\n'
        )
        self._spawn("superlink", [
            "flower-superlink", "--port", str(self.port),
            "--ssl-certfile", str(self.credentials.server_cert), "--ssl-keyfile", str(self.credentials.server_key),
            "--ssl-ca-certfile", str(self.credentials.ca_cert),
            "--enable-supernode-auth", "--disable-runtime-dependency-installation",
        ])
        self._wait_for_port(self.port, "superlink")
        for bank in self.banks:
            self.start_bank(bank)

    def _wait_for_port(self, port: int, name: str) -> None:
        deadline = time.monotonic() + self.step_timeout
        while time.monotonic() < deadline:
            for pname, proc in self._processes:
                if pname == name and proc.poll() is not None:
                    raise DeploymentError(f"{name} exited {proc.returncode}:\n{_tail(self.logs / f'{name}.log')}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        raise DeploymentError(f"{name} did not listen on {port} within {self.step_timeout}s")

    def start_bank(self, bank: BankSpec, *, register: bool = True) -> None:
        """Start a bank's SuperNode; `register=False` starts one the SuperLink has never heard of."""
        assert self.credentials is not None
        keys = self.credentials.node_keys.get(bank.name) or tls.node_key_pair(self.workdir / "tls" / "nodes", bank.name)
        if register:
            self._run(f"register-{bank.name}", ["flwr", "supernode", "register", str(keys[1]), CONNECTION],
                      self.step_timeout)
        keyring_path = self.workdir / "banks" / bank.name / "keyring.json"
        node_config = " ".join(f"{k}={_toml_value(v)}" for k, v in {
            "bank": bank.name, "data-path": str(Path(bank.data_path).resolve()), "keyring-path": str(keyring_path),
        }.items())
        self._spawn(f"supernode-{bank.name}", [
            "flower-supernode", "--superlink", f"127.0.0.1:{self.port}",
            "--root-certificates", str(self.credentials.ca_cert),
            "--auth-supernode-private-key", str(keys[0]), "--port", str(port := free_port()),
            "--node-config", node_config,
        ])
        self._ports.add(port)

    def run(self, run_config: Mapping[str, Any], *, timeout: float = 600.0) -> dict[str, Any]:
        """Submit one run of the app and wait for it; returns the ServerApp's report."""
        out = self.workdir / "out" / f"run-{int(time.time() * 1000)}"
        config = {**run_config, "output-dir": str(out)}
        config_file = self.workdir / f"run-config-{out.name}.toml"
        config_file.write_text("".join(f"{k} = {_toml_value(v)}\n" for k, v in config.items()))
        started = time.monotonic()
        try:
            self._run(f"flwr-run-{out.name}", ["flwr", "run", str(APP_DIR), CONNECTION, "--run-config",
                                               str(config_file), "--stream"], timeout)
        except DeploymentError as exc:
            raise DeploymentError(f"{exc}\nsuperlink log:\n{_tail(self.logs / 'superlink.log')}") from exc
        report_path = out / REPORT_FILE
        if not report_path.exists():
            raise DeploymentError(f"run finished without a report:\n{_tail(self.logs / f'flwr-run-{out.name}.log', 60)}")
        report = json.loads(report_path.read_text())
        report["output_dir"] = str(out)
        report["wall_seconds"] = time.monotonic() - started
        report["deployment"] = "flower-superlink + one flower-supernode per bank, loopback, TLS, node auth"
        return report

    def close(self) -> None:
        """Stop every process this deployment started, with their descendants (ServerApp, ClientApps),
        and any helper of ours that outlived its parent (recognised by the ports this deployment owns)."""
        for _, proc in reversed(self._processes):
            stop_tree(proc)
        self._processes.clear()
        for orphan in self._orphans():
            stop_tree(orphan)
        self._reap_adopted()
        if self._adopting:
            _set_subreaper(False)
            self._adopting = False

    @staticmethod
    def _reap_adopted() -> None:
        """Collect exit statuses of Flower helpers that died as our adoptees (else they stay zombies)."""
        for child in psutil.Process().children():
            try:
                if child.status() == psutil.STATUS_ZOMBIE and child.name().startswith(("flower-", "flwr-")):
                    os.waitpid(child.pid, os.WNOHANG)
            except (psutil.NoSuchProcess, ChildProcessError):
                continue

    def _orphans(self) -> list[psutil.Process]:
        found = []
        for child in psutil.Process().children():
            try:
                cmdline = " ".join(child.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if "flower-" in cmdline and any(f"127.0.0.1:{port}" in cmdline for port in self._ports):
                found.append(child)
        return found

    def command_line(self, run_config_file: Path) -> str:
        """The equivalent `flwr run` line, for the docs and the CLI's --print-run-line."""
        return shlex.join(["flwr", "run", str(APP_DIR), CONNECTION, "--run-config", str(run_config_file), "--stream"])


def stop_tree(proc: subprocess.Popen[bytes] | psutil.Process, *, grace: float = 5.0) -> None:
    """SIGTERM a process we started (or adopted) and its descendants, leaves first; SIGKILL what is left
    after `grace`; reap them all."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in reversed(children):
        try:
            child.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    try:
        proc.terminate()
    except (ProcessLookupError, psutil.NoSuchProcess):
        pass
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        proc.wait(timeout=grace)
    except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
        proc.kill()
        proc.wait(timeout=grace)
    except psutil.NoSuchProcess:
        pass
