from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyStatement(_message.Message):
    __slots__ = ("identity", "keys", "issued_at")
    class KeysEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    identity: str
    keys: _containers.ScalarMap[str, bytes]
    issued_at: int
    def __init__(self, identity: _Optional[str] = ..., keys: _Optional[_Mapping[str, bytes]] = ..., issued_at: _Optional[int] = ...) -> None: ...

class KeyBinding(_message.Message):
    __slots__ = ("statement", "signature", "certificate_pem")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    statement: bytes
    signature: bytes
    certificate_pem: bytes
    def __init__(self, statement: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., certificate_pem: _Optional[bytes] = ...) -> None: ...

class SignedStatement(_message.Message):
    __slots__ = ("statement", "signature")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    statement: bytes
    signature: bytes
    def __init__(self, statement: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class EnterpriseKeyStatement(_message.Message):
    __slots__ = ("credit_code", "key_id", "public_key", "valid_from", "valid_until", "revoked_at", "issued_at", "expires_at")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    key_id: str
    public_key: bytes
    valid_from: int
    valid_until: int
    revoked_at: int
    issued_at: int
    expires_at: int
    def __init__(self, credit_code: _Optional[str] = ..., key_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., valid_from: _Optional[int] = ..., valid_until: _Optional[int] = ..., revoked_at: _Optional[int] = ..., issued_at: _Optional[int] = ..., expires_at: _Optional[int] = ...) -> None: ...

class RelayedRequest(_message.Message):
    __slots__ = ("signed_request", "requester_keys")
    SIGNED_REQUEST_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_KEYS_FIELD_NUMBER: _ClassVar[int]
    signed_request: bytes
    requester_keys: KeyBinding
    def __init__(self, signed_request: _Optional[bytes] = ..., requester_keys: _Optional[_Union[KeyBinding, _Mapping]] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class RelayedAnswer(_message.Message):
    __slots__ = ("sealed_answer", "refusal", "audit_leaves")
    SEALED_ANSWER_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    AUDIT_LEAVES_FIELD_NUMBER: _ClassVar[int]
    sealed_answer: bytes
    refusal: Refusal
    audit_leaves: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, sealed_answer: _Optional[bytes] = ..., refusal: _Optional[_Union[Refusal, _Mapping]] = ..., audit_leaves: _Optional[_Iterable[bytes]] = ...) -> None: ...

class KeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LatestCosignedRequest(_message.Message):
    __slots__ = ("origin",)
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    origin: str
    def __init__(self, origin: _Optional[str] = ...) -> None: ...

class LatestCosignedReply(_message.Message):
    __slots__ = ("note",)
    NOTE_FIELD_NUMBER: _ClassVar[int]
    note: str
    def __init__(self, note: _Optional[str] = ...) -> None: ...

class KnownSizeRequest(_message.Message):
    __slots__ = ("origin",)
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    origin: str
    def __init__(self, origin: _Optional[str] = ...) -> None: ...

class KnownSizeReply(_message.Message):
    __slots__ = ("size",)
    SIZE_FIELD_NUMBER: _ClassVar[int]
    size: int
    def __init__(self, size: _Optional[int] = ...) -> None: ...

class AddCheckpointRequest(_message.Message):
    __slots__ = ("note", "old_size", "proof")
    NOTE_FIELD_NUMBER: _ClassVar[int]
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    note: str
    old_size: int
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, note: _Optional[str] = ..., old_size: _Optional[int] = ..., proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Cosignature(_message.Message):
    __slots__ = ("name", "key_id", "signature")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    name: str
    key_id: int
    signature: bytes
    def __init__(self, name: _Optional[str] = ..., key_id: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

class WitnessRefusal(_message.Message):
    __slots__ = ("kind", "detail", "known_size", "offered_size", "known_root", "offered_root")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    KNOWN_SIZE_FIELD_NUMBER: _ClassVar[int]
    OFFERED_SIZE_FIELD_NUMBER: _ClassVar[int]
    KNOWN_ROOT_FIELD_NUMBER: _ClassVar[int]
    OFFERED_ROOT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    detail: str
    known_size: int
    offered_size: int
    known_root: bytes
    offered_root: bytes
    def __init__(self, kind: _Optional[str] = ..., detail: _Optional[str] = ..., known_size: _Optional[int] = ..., offered_size: _Optional[int] = ..., known_root: _Optional[bytes] = ..., offered_root: _Optional[bytes] = ...) -> None: ...

class AddCheckpointReply(_message.Message):
    __slots__ = ("cosignature", "refusal")
    COSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    cosignature: Cosignature
    refusal: WitnessRefusal
    def __init__(self, cosignature: _Optional[_Union[Cosignature, _Mapping]] = ..., refusal: _Optional[_Union[WitnessRefusal, _Mapping]] = ...) -> None: ...

class GovernanceEvent(_message.Message):
    __slots__ = ("seq", "leaf")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    seq: int
    leaf: bytes
    def __init__(self, seq: _Optional[int] = ..., leaf: _Optional[bytes] = ...) -> None: ...

class GovernanceEvents(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[GovernanceEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[GovernanceEvent, _Mapping]]] = ...) -> None: ...

class GovernanceReceipt(_message.Message):
    __slots__ = ("seq", "index", "tree_size", "root")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    index: int
    tree_size: int
    root: bytes
    def __init__(self, seq: _Optional[int] = ..., index: _Optional[int] = ..., tree_size: _Optional[int] = ..., root: _Optional[bytes] = ...) -> None: ...

class GovernanceReceipts(_message.Message):
    __slots__ = ("receipts",)
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[GovernanceReceipt]
    def __init__(self, receipts: _Optional[_Iterable[_Union[GovernanceReceipt, _Mapping]]] = ...) -> None: ...

class GovernanceProofQuery(_message.Message):
    __slots__ = ("indexes",)
    INDEXES_FIELD_NUMBER: _ClassVar[int]
    indexes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, indexes: _Optional[_Iterable[int]] = ...) -> None: ...

class GovernanceProof(_message.Message):
    __slots__ = ("index", "leaf", "proof")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    index: int
    leaf: bytes
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, index: _Optional[int] = ..., leaf: _Optional[bytes] = ..., proof: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GovernanceProofReply(_message.Message):
    __slots__ = ("note", "proofs", "registry_keys", "witnesses", "quorum")
    NOTE_FIELD_NUMBER: _ClassVar[int]
    PROOFS_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_KEYS_FIELD_NUMBER: _ClassVar[int]
    WITNESSES_FIELD_NUMBER: _ClassVar[int]
    QUORUM_FIELD_NUMBER: _ClassVar[int]
    note: str
    proofs: _containers.RepeatedCompositeFieldContainer[GovernanceProof]
    registry_keys: KeyBinding
    witnesses: _containers.RepeatedCompositeFieldContainer[KeyBinding]
    quorum: int
    def __init__(self, note: _Optional[str] = ..., proofs: _Optional[_Iterable[_Union[GovernanceProof, _Mapping]]] = ..., registry_keys: _Optional[_Union[KeyBinding, _Mapping]] = ..., witnesses: _Optional[_Iterable[_Union[KeyBinding, _Mapping]]] = ..., quorum: _Optional[int] = ...) -> None: ...

class StatusQuery(_message.Message):
    __slots__ = ("authorisation_id",)
    AUTHORISATION_ID_FIELD_NUMBER: _ClassVar[int]
    authorisation_id: str
    def __init__(self, authorisation_id: _Optional[str] = ...) -> None: ...

class EnterpriseKeyQuery(_message.Message):
    __slots__ = ("credit_code", "key_id")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    key_id: str
    def __init__(self, credit_code: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...

class Announcement(_message.Message):
    __slots__ = ("address", "keys", "catalogue")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    CATALOGUE_FIELD_NUMBER: _ClassVar[int]
    address: str
    keys: KeyBinding
    catalogue: _containers.RepeatedCompositeFieldContainer[CatalogueField]
    def __init__(self, address: _Optional[str] = ..., keys: _Optional[_Union[KeyBinding, _Mapping]] = ..., catalogue: _Optional[_Iterable[_Union[CatalogueField, _Mapping]]] = ...) -> None: ...

class CatalogueField(_message.Message):
    __slots__ = ("name", "category", "sensitivity", "value_type", "period")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    VALUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    name: str
    category: str
    sensitivity: str
    value_type: str
    period: str
    def __init__(self, name: _Optional[str] = ..., category: _Optional[str] = ..., sensitivity: _Optional[str] = ..., value_type: _Optional[str] = ..., period: _Optional[str] = ...) -> None: ...

class AnnounceReply(_message.Message):
    __slots__ = ("party",)
    PARTY_FIELD_NUMBER: _ClassVar[int]
    party: str
    def __init__(self, party: _Optional[str] = ...) -> None: ...

class RegistryKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegistryKeysReply(_message.Message):
    __slots__ = ("registry_keys", "log_origin", "witnesses", "quorum")
    REGISTRY_KEYS_FIELD_NUMBER: _ClassVar[int]
    LOG_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    WITNESSES_FIELD_NUMBER: _ClassVar[int]
    QUORUM_FIELD_NUMBER: _ClassVar[int]
    registry_keys: KeyBinding
    log_origin: str
    witnesses: _containers.RepeatedCompositeFieldContainer[KeyBinding]
    quorum: int
    def __init__(self, registry_keys: _Optional[_Union[KeyBinding, _Mapping]] = ..., log_origin: _Optional[str] = ..., witnesses: _Optional[_Iterable[_Union[KeyBinding, _Mapping]]] = ..., quorum: _Optional[int] = ...) -> None: ...

class CheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CheckpointReply(_message.Message):
    __slots__ = ("note", "size", "refusals")
    NOTE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    note: str
    size: int
    refusals: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, note: _Optional[str] = ..., size: _Optional[int] = ..., refusals: _Optional[_Iterable[str]] = ...) -> None: ...

class BindEnterpriseKeyRequest(_message.Message):
    __slots__ = ("credit_code", "public_key", "valid_from")
    CREDIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    credit_code: str
    public_key: bytes
    valid_from: int
    def __init__(self, credit_code: _Optional[str] = ..., public_key: _Optional[bytes] = ..., valid_from: _Optional[int] = ...) -> None: ...

class BindEnterpriseKeyReply(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class SubmitAuthorisationRequest(_message.Message):
    __slots__ = ("artefact", "actor", "activate")
    ARTEFACT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_FIELD_NUMBER: _ClassVar[int]
    artefact: bytes
    actor: str
    activate: bool
    def __init__(self, artefact: _Optional[bytes] = ..., actor: _Optional[str] = ..., activate: bool = ...) -> None: ...

class ChangeStatusRequest(_message.Message):
    __slots__ = ("authorisation_id", "target", "actor", "reason")
    AUTHORISATION_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    authorisation_id: str
    target: str
    actor: str
    reason: str
    def __init__(self, authorisation_id: _Optional[str] = ..., target: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AuthorisationStatusReply(_message.Message):
    __slots__ = ("authorisation_id", "status")
    AUTHORISATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    authorisation_id: str
    status: str
    def __init__(self, authorisation_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...
