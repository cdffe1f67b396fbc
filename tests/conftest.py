"""Shared fixtures. `postgres_url`: a throwaway PostgreSQL server for the tests that check the stores on
PostgreSQL, not only SQLite.

The server runs from the machine's PostgreSQL binaries (`initdb`, `postgres` on PATH or under
/usr/lib/postgresql/*/bin) in a temporary folder, listening on a Unix socket only, as the `postgres`
system user when the tests run as root (PostgreSQL refuses root). One server per test module, a
database per test.
Tests skip, saying why, where there are no binaries or no unprivileged user to run them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PORT = 5432  # only names the socket file: the server opens no TCP port


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_server_user() -> tuple[list[str], int | None]:
    """The command prefix (and uid) to run the server as someone other than root."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and no `postgres` user to run PostgreSQL as")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root and no `runuser` to drop to the `postgres` user")
    return [runuser, "-u", "postgres", "--"], user.pw_uid


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[Path]:
    """The socket folder of a running server whose superuser `xyd` logs in without a password. One per test
    module, so that no server outlives the module (other tests check that they leave no process behind)."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (psycopg) is not installed")
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if initdb is None or postgres is None:
        pytest.skip("no PostgreSQL server binaries (initdb, postgres) on this machine")
    prefix, uid = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="xyd-pg-"))
    if uid is not None:
        os.chown(root, uid, -1)
    data, socket_dir = root / "data", root
    subprocess.run([*prefix, initdb, "-D", str(data), "-U", "xyd", "-A", "trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    server = subprocess.Popen(
        [*prefix, postgres, "-D", str(data), "-k", str(socket_dir), "-p", str(PORT), "-c", "listen_addresses=",
         "-c", "unix_socket_permissions=0700", "-c", "fsync=off", "-c", "max_connections=50"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_ready(socket_dir, server)
        yield socket_dir
    finally:
        os.killpg(server.pid, signal.SIGINT)  # fast shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(socket_dir: Path, server: subprocess.Popen, timeout_s: float = 60.0) -> None:
    import psycopg  # for its error type

    deadline = time.monotonic() + timeout_s
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited: {server.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            _admin(socket_dir).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def postgres_url(postgres_server: Path) -> Iterator[str]:
    """An SQLAlchemy URL of a new, empty database (dropped after the test)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with _admin(postgres_server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://xyd@/{name}?host={postgres_server}&port={PORT}"
    with _admin(postgres_server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(socket_dir: Path):
    """A connection to the server's `postgres` database as its superuser, outside any transaction."""
    import psycopg

    return psycopg.connect(host=str(socket_dir), port=PORT, user="xyd", dbname="postgres", autocommit=True)
