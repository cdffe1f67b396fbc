"""Node configuration: a TOML file, overridden by XYD_* environment variables.

Every node process (coordinator, platform, source) shares the `[node]`, `[tls]` and `[coordinator]`
sections; role-specific sections (`[data]`, `[api]`, ...) are read by the role itself from `raw`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from errors import ConfigurationError


class ConfigError(ConfigurationError):
    """The configuration file or environment is missing a setting or holds an invalid one."""


@dataclass(frozen=True)
class TlsPaths:
    ca: Path
    cert: Path
    key: Path
    crl: Path | None = None


@dataclass(frozen=True)
class NodePolicy:
    """A node's security switches, read from its own config's `[policy]` only: never from a job or a peer.

    `allow_insecure_keys_for_tests` admits HE keys below the production sizes (tests and small demos);
    `allow_plaintext_training` lets a source node take part in a training that sends gradients in clear.
    """

    allow_insecure_keys_for_tests: bool = False
    allow_plaintext_training: bool = False

    @classmethod
    def from_section(cls, section: Mapping[str, Any], where: str = "[policy]") -> NodePolicy:
        known = {"allow_insecure_keys_for_tests", "allow_plaintext_training"}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown settings {unknown}; valid: {sorted(known)}")
        values = {}
        for key in known & set(section):
            if not isinstance(section[key], bool):
                raise ConfigError(f"{where} {key} must be true or false")
            values[key] = section[key]
        return cls(**values)


@dataclass(frozen=True)
class NodeConfig:
    """Settings every node process needs; `raw` keeps the whole file for role-specific sections."""

    listen: str
    state_dir: Path
    tls: TlsPaths
    coordinator: str | None
    log_level: str = "INFO"
    log_file: Path | None = None
    log_max_mb: float = 50.0
    log_backups: int = 5
    raw: Mapping[str, Any] = field(default_factory=dict)
    source: Path | None = None
    advertise: str | None = None  # `host` or `host:port` peers on other hosts dial (default: the bound address)

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"[{name}] must be a table in {self.source}")
        return value

    @property
    def policy(self) -> NodePolicy:
        """The node's own security switches (`[policy]`)."""
        return NodePolicy.from_section(self.section("policy"), f"{self.source}: [policy]")

    def path(self, value: str | os.PathLike[str]) -> Path:
        """Resolve a path from the file relative to the file's folder."""
        p = Path(value)
        if not p.is_absolute() and self.source is not None:
            p = self.source.parent / p
        return p


ENV_OVERRIDES = {
    "XYD_LISTEN": ("node", "listen"),
    "XYD_ADVERTISE": ("node", "advertise"),
    "XYD_STATE_DIR": ("node", "state_dir"),
    "XYD_LOG_LEVEL": ("node", "log_level"),
    "XYD_LOG_FILE": ("node", "log_file"),
    "XYD_COORDINATOR": ("coordinator", "address"),
    "XYD_TLS_CA": ("tls", "ca"),
    "XYD_TLS_CERT": ("tls", "cert"),
    "XYD_TLS_KEY": ("tls", "key"),
    "XYD_TLS_CRL": ("tls", "crl"),
}


def load_node_config(path: Path, env: Mapping[str, str] | None = None) -> NodeConfig:
    """Read `path`, apply XYD_* environment overrides, and check the required settings."""
    env = os.environ if env is None else env
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    for var, (section, key) in ENV_OVERRIDES.items():
        if env.get(var):
            raw.setdefault(section, {})[key] = env[var]
    base = path.parent

    def need(section: str, key: str) -> Any:
        try:
            return raw[section][key]
        except KeyError as exc:
            raise ConfigError(f"{path}: missing [{section}] {key}") from exc

    def resolve(value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else base / p

    tls = raw.get("tls", {})
    advertise = raw.get("node", {}).get("advertise")
    if advertise is not None:
        advertise = check_advertise(str(advertise), f"{path}: [node] advertise")
    return NodeConfig(
        listen=str(raw.get("node", {}).get("listen", "127.0.0.1:0")),
        state_dir=resolve(str(need("node", "state_dir"))),
        tls=TlsPaths(
            ca=resolve(need("tls", "ca")),
            cert=resolve(need("tls", "cert")),
            key=resolve(need("tls", "key")),
            crl=resolve(tls["crl"]) if tls.get("crl") else None,
        ),
        coordinator=raw.get("coordinator", {}).get("address"),
        log_level=str(raw.get("node", {}).get("log_level", "INFO")),
        log_file=resolve(str(raw["node"]["log_file"])) if raw.get("node", {}).get("log_file") else None,
        log_max_mb=float(raw.get("node", {}).get("log_max_mb", 50.0)),
        log_backups=int(raw.get("node", {}).get("log_backups", 5)),
        raw=raw,
        source=path.resolve(),
        advertise=advertise,
    )


def check_advertise(value: str, where: str = "advertise") -> str:
    """`host` or `host:port` (IPv6 in brackets), the address a node announces; refuses a wildcard host."""
    host, port = value, ""
    if value.startswith("["):
        host, _, rest = value.partition("]")
        host += "]"
        if rest and not rest.startswith(":"):
            raise ConfigError(f"{where}: {value!r} is not host or host:port")
        port = rest[1:]
    elif value.count(":") == 1:
        host, port = value.split(":")
    elif ":" in value:
        raise ConfigError(f"{where}: {value!r} is not host or host:port (put an IPv6 address in brackets)")
    if host in {"", "0.0.0.0", "[::]"}:
        raise ConfigError(f"{where}: {value!r} must name a host peers can dial, not a wildcard")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"{where}: {value!r} has an invalid port")
    return value
