from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaillierPublicKey(_message.Message):
    __slots__ = ("n", "exponent_bits")
    N_FIELD_NUMBER: _ClassVar[int]
    EXPONENT_BITS_FIELD_NUMBER: _ClassVar[int]
    n: bytes
    exponent_bits: int
    def __init__(self, n: _Optional[bytes] = ..., exponent_bits: _Optional[int] = ...) -> None: ...

class OUPublicKey(_message.Message):
    __slots__ = ("n", "g", "h", "prime_bits", "exponent_bits")
    N_FIELD_NUMBER: _ClassVar[int]
    G_FIELD_NUMBER: _ClassVar[int]
    H_FIELD_NUMBER: _ClassVar[int]
    PRIME_BITS_FIELD_NUMBER: _ClassVar[int]
    EXPONENT_BITS_FIELD_NUMBER: _ClassVar[int]
    n: bytes
    g: bytes
    h: bytes
    prime_bits: int
    exponent_bits: int
    def __init__(self, n: _Optional[bytes] = ..., g: _Optional[bytes] = ..., h: _Optional[bytes] = ..., prime_bits: _Optional[int] = ..., exponent_bits: _Optional[int] = ...) -> None: ...

class PublicKey(_message.Message):
    __slots__ = ("paillier", "ou")
    PAILLIER_FIELD_NUMBER: _ClassVar[int]
    OU_FIELD_NUMBER: _ClassVar[int]
    paillier: PaillierPublicKey
    ou: OUPublicKey
    def __init__(self, paillier: _Optional[_Union[PaillierPublicKey, _Mapping]] = ..., ou: _Optional[_Union[OUPublicKey, _Mapping]] = ...) -> None: ...

class PackingLayout(_message.Message):
    __slots__ = ("slots", "slot_bits", "frac_bits", "max_abs")
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    SLOT_BITS_FIELD_NUMBER: _ClassVar[int]
    FRAC_BITS_FIELD_NUMBER: _ClassVar[int]
    MAX_ABS_FIELD_NUMBER: _ClassVar[int]
    slots: int
    slot_bits: int
    frac_bits: int
    max_abs: float
    def __init__(self, slots: _Optional[int] = ..., slot_bits: _Optional[int] = ..., frac_bits: _Optional[int] = ..., max_abs: _Optional[float] = ...) -> None: ...

class CipherVector(_message.Message):
    __slots__ = ("scheme", "key_fingerprint", "layout", "rows", "rows_per_ciphertext", "ciphertext_bytes", "ciphertexts", "bound")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    KEY_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ROWS_PER_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_BYTES_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXTS_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    scheme: str
    key_fingerprint: str
    layout: PackingLayout
    rows: int
    rows_per_ciphertext: int
    ciphertext_bytes: int
    ciphertexts: bytes
    bound: bytes
    def __init__(self, scheme: _Optional[str] = ..., key_fingerprint: _Optional[str] = ..., layout: _Optional[_Union[PackingLayout, _Mapping]] = ..., rows: _Optional[int] = ..., rows_per_ciphertext: _Optional[int] = ..., ciphertext_bytes: _Optional[int] = ..., ciphertexts: _Optional[bytes] = ..., bound: _Optional[bytes] = ...) -> None: ...

class CkksPublicContext(_message.Message):
    __slots__ = ("context", "poly_degree", "coeff_bits", "scale_bits")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    POLY_DEGREE_FIELD_NUMBER: _ClassVar[int]
    COEFF_BITS_FIELD_NUMBER: _ClassVar[int]
    SCALE_BITS_FIELD_NUMBER: _ClassVar[int]
    context: bytes
    poly_degree: int
    coeff_bits: _containers.RepeatedScalarFieldContainer[int]
    scale_bits: int
    def __init__(self, context: _Optional[bytes] = ..., poly_degree: _Optional[int] = ..., coeff_bits: _Optional[_Iterable[int]] = ..., scale_bits: _Optional[int] = ...) -> None: ...

class CkksArray(_message.Message):
    __slots__ = ("chunks",)
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, chunks: _Optional[_Iterable[bytes]] = ...) -> None: ...
