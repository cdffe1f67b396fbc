"""Choosing a cipher backend: the active party from its parameters and key, a passive party from the setup."""

from __future__ import annotations

from federation.proto import secureboost_pb2 as pb
from models.he.obfuscators import ObfuscatorSupply
from models.he.scheme import SecretKey
from models.secureboost.cipher import GradientEncryptor, HistogramEvaluator
from models.secureboost.errors import PlaintextRefusedError, ProtocolError
from models.secureboost.he_cipher import HE_SCHEMES, HeEncryptor, HeEvaluator
from models.secureboost.plain_cipher import PLAIN_SCHEME, PlainEncryptor, PlainEvaluator


def encryptor_for(encryption: bool, secret: SecretKey | None = None, obfuscators: ObfuscatorSupply | None = None
                  ) -> GradientEncryptor:
    """The active party's encryptor: the HE engine with this secret key, or plain when encryption is off."""
    if not encryption:
        return PlainEncryptor()
    if secret is None:
        raise ProtocolError("secret key", "a Paillier or OU secret key when encryption is on", None)
    return HeEncryptor(secret, obfuscators)


def evaluator_for(setup: pb.TrainSetup, *, allow_plaintext: bool = False,
                  allow_insecure_for_tests: bool = False) -> HistogramEvaluator:
    """A passive party's evaluator for the scheme the active party announced (public material only)."""
    if setup.scheme in HE_SCHEMES:
        evaluator = HeEvaluator.from_public_bytes(setup.public_key, allow_insecure_for_tests=allow_insecure_for_tests)
        if evaluator.scheme != setup.scheme:
            raise ProtocolError("public key scheme", setup.scheme, evaluator.scheme)
        return evaluator
    if setup.scheme == PLAIN_SCHEME:
        if not allow_plaintext:
            raise PlaintextRefusedError("the active party asked for plain gradients; this party requires encryption")
        return PlainEvaluator(setup.capacity_bits)
    raise ProtocolError("scheme", [*HE_SCHEMES, PLAIN_SCHEME], setup.scheme)
