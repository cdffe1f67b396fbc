"""Self-declared information (自愿填报) under a signed credit commitment: versions, reports, reads under consent."""

from platform_node.declarations.book import (
    SELF_DECLARED,
    DeclarationBook,
    DeclarationNotCurrent,
    DeclarationRead,
    DeclarationRecord,
    DeclarationRefused,
    DeclarationStatus,
    ReadRefused,
    UnknownDeclaration,
    declaration_json,
)

__all__ = [
    "SELF_DECLARED",
    "DeclarationBook",
    "DeclarationNotCurrent",
    "DeclarationRead",
    "DeclarationRecord",
    "DeclarationRefused",
    "DeclarationStatus",
    "ReadRefused",
    "UnknownDeclaration",
    "declaration_json",
]
