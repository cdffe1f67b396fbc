"""Enterprises in control of their consent: identity proofs (`identity`), the local enterprise-certificate
identity provider (`local_certificates`) and the signature that authenticates each HTTP request an
enterprise sends (`request_auth`). No HTTP here: the platform wires these to its API, the `xyd enterprise`
CLI signs with them on the enterprise's side.
"""

from consent.enterprise.identity import (
    IdentityAssertion,
    IdentityNotProven,
    IdentityProof,
    IdentityProvider,
    KeyStatement,
    ProofPurpose,
    VerifiedProof,
    check_possession,
    check_proof,
    prove_possession,
)
from consent.enterprise.local_certificates import (
    LocalCertificateProvider,
    LocalEnterpriseCA,
    certificate_proof,
)
from consent.enterprise.request_auth import (
    CONTENT_DIGEST_HEADER,
    SCHEME,
    RequestCredentials,
    parse_authorization,
    sign_request,
    verify_request,
)

__all__ = [
    "CONTENT_DIGEST_HEADER",
    "SCHEME",
    "IdentityAssertion",
    "IdentityNotProven",
    "IdentityProof",
    "IdentityProvider",
    "KeyStatement",
    "LocalCertificateProvider",
    "LocalEnterpriseCA",
    "ProofPurpose",
    "RequestCredentials",
    "VerifiedProof",
    "certificate_proof",
    "check_possession",
    "check_proof",
    "parse_authorization",
    "prove_possession",
    "sign_request",
    "verify_request",
]
