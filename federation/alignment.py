"""Row alignment after PSI: the active party's sample order told in terms of the shared intersection.

Both parties hold the intersection's ids sorted ascending; the active party sends, for each of them, the
row it occupies in a split (train or holdout) or `UNUSED`. No id crosses the wire, only positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from errors import ProtocolViolation
from federation.proto import alignment_pb2

UNUSED = 0xFFFFFFFF


class AlignmentError(ProtocolViolation, ValueError):
    """An alignment message does not fit the intersection it claims to describe."""


def row_alignment(intersection: Sequence[str], split_ids: Sequence[str]) -> alignment_pb2.RowAlignment:
    """Positions of each (sorted) intersection id within `split_ids`, the split's row order."""
    index = {cid: i for i, cid in enumerate(split_ids)}
    positions = np.array([index.get(cid, UNUSED) for cid in intersection], dtype="<u4")
    return alignment_pb2.RowAlignment(n_rows=len(split_ids), positions=positions.tobytes())


def apply_alignment(alignment: alignment_pb2.RowAlignment, own_rows: np.ndarray) -> np.ndarray:
    """Place this party's rows (one per sorted intersection id) at their positions; other rows are NaN."""
    positions = np.frombuffer(alignment.positions, dtype="<u4")
    if len(positions) != own_rows.shape[0]:
        raise AlignmentError(f"alignment lists {len(positions)} intersection rows, this party holds {own_rows.shape[0]}")
    used = positions != UNUSED
    if used.any() and int(positions[used].max()) >= alignment.n_rows:
        raise AlignmentError(f"a position is beyond the split's {alignment.n_rows} rows")
    if len(np.unique(positions[used])) != int(used.sum()):
        raise AlignmentError("two intersection rows were given the same position")
    out = np.full((alignment.n_rows, own_rows.shape[1]), np.nan)
    out[positions[used].astype(np.int64)] = own_rows[used]
    return out
