"""The online procedures (オンライン手続): the catalog of the 31 priority procedures as data.

Public API (import from here):

- :func:`default_catalog`, :class:`Catalog`: load, check and look up definitions by id+version,
  number, category, life event and offering body
- :class:`ProcedureDefinition` and its parts; :func:`validate_application`,
  :func:`validate_attachments`: one Japanese message per field, keyed by JSON pointer
- :func:`canonical_form_bytes`: the bytes a resident signs
- :class:`TenantProcedures`, :func:`effective_definition`: per-tenant switches, guidance and extra
  fields, giving frozen effective definitions (``child_allowance_claim@1+131016.3``)
- :func:`sample_application`, :func:`sample_invalid_applications`, :func:`sample_attachments`
"""

from jichitai.procedures.canonical import canonical_form_bytes
from jichitai.procedures.catalog import (
    Catalog,
    DefinitionError,
    build_definition,
    content_hash,
    default_catalog,
    parse_ref,
    write_version_lock,
)
from jichitai.procedures.model import (
    AttachmentSpec,
    Category,
    CertificateKind,
    HandledBy,
    LegalBasis,
    OfferedBy,
    ProcedureDefinition,
    Source,
)
from jichitai.procedures.overrides import (
    EffectiveDefinition,
    JsonFileOverrideStore,
    OverrideStore,
    TenantOverride,
    TenantProcedures,
    effective_definition,
    parse_effective_id,
)
from jichitai.procedures.samples import (
    InvalidSample,
    sample_application,
    sample_attachments,
    sample_invalid_applications,
)
from jichitai.procedures.validation import (
    AttachmentMeta,
    FieldError,
    ValidationResult,
    validate_application,
    validate_attachments,
)

__all__ = [
    "AttachmentMeta",
    "AttachmentSpec",
    "Catalog",
    "Category",
    "CertificateKind",
    "DefinitionError",
    "EffectiveDefinition",
    "FieldError",
    "HandledBy",
    "InvalidSample",
    "JsonFileOverrideStore",
    "LegalBasis",
    "OfferedBy",
    "OverrideStore",
    "ProcedureDefinition",
    "Source",
    "TenantOverride",
    "TenantProcedures",
    "ValidationResult",
    "build_definition",
    "canonical_form_bytes",
    "content_hash",
    "default_catalog",
    "effective_definition",
    "parse_effective_id",
    "parse_ref",
    "sample_application",
    "sample_attachments",
    "sample_invalid_applications",
    "validate_application",
    "validate_attachments",
    "write_version_lock",
]
