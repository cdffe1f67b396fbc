"""How many HE operations this process ran: one counter, incremented once per batch (never per ciphertext in
a hot loop), exported on the node's `/metrics` as `xyd_he_operations_total{scheme, operation}`."""

from __future__ import annotations

from prometheus_client import Counter

HE_OPERATIONS = Counter("xyd_he_operations_total", "Homomorphic encryptions and decryptions, by scheme",
                        ["scheme", "operation"])
# Bound children, so counting a batch is one locked addition.
PAILLIER_ENCRYPTIONS = HE_OPERATIONS.labels("paillier", "encrypt")
PAILLIER_DECRYPTIONS = HE_OPERATIONS.labels("paillier", "decrypt")
OU_ENCRYPTIONS = HE_OPERATIONS.labels("ou", "encrypt")
OU_DECRYPTIONS = HE_OPERATIONS.labels("ou", "decrypt")
