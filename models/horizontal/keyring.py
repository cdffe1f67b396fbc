"""The banks' shared secrets in one file: the CKKS secret context and the model-sealing key.

One bank generates it and hands it to the others out of band (the launcher plays that bank in tests);
the aggregator never receives it. JSON with base64 fields, so no pickle crosses a boundary.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.he.ckks import CkksParams
from models.horizontal.ckks import HORIZONTAL_CKKS, BankCkks
from models.horizontal.errors import InvalidParameterError
from models.horizontal.sealing import KEY_BYTES

FORMAT = "xyd-bank-keyring/1"


@dataclass(frozen=True)
class BankKeyring:
    """What every participating bank holds and the aggregator must never see."""

    ckks: BankCkks
    sealing_key: bytes

    @classmethod
    def generate(cls, params: CkksParams | None = None, *, random_bytes: Callable[[int], bytes] = os.urandom) -> BankKeyring:
        return cls(BankCkks.generate(params or HORIZONTAL_CKKS), random_bytes(KEY_BYTES))

    def to_bytes(self) -> bytes:
        p = self.ckks.params
        return json.dumps({
            "format": FORMAT,
            "ckks_params": {"poly_degree": p.poly_degree, "coeff_bits": list(p.coeff_bits), "scale_bits": p.scale_bits},
            "ckks_secret_context": base64.b64encode(self.ckks.secret_bytes()).decode(),
            "sealing_key": base64.b64encode(self.sealing_key).decode(),
        }).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> BankKeyring:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise InvalidParameterError(f"keyring format {doc.get('format')!r}, expected {FORMAT!r}")
            raw = doc["ckks_params"]
            params = CkksParams(raw["poly_degree"], tuple(raw["coeff_bits"]), raw["scale_bits"])
            ckks = BankCkks.from_bytes(base64.b64decode(doc["ckks_secret_context"]), params)
            key = base64.b64decode(doc["sealing_key"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameterError(f"unreadable bank keyring: {exc}") from exc
        if len(key) != KEY_BYTES:
            raise InvalidParameterError("keyring sealing key has the wrong length")
        return cls(ckks, key)

    def write(self, path: Path) -> None:
        """Write with owner-only permissions: the file holds the banks' secret key."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.to_bytes())

    @classmethod
    def read(cls, path: Path) -> BankKeyring:
        return cls.from_bytes(Path(path).read_bytes())
