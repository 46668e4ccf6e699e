"""The procedure catalog: every definition file, checked, hashed and looked up.

Definitions live in ``definitions/<id>.v<version>.yaml``, one file per procedure and version. On
load each file is checked against ``definition.schema.json`` (the meta-schema) and by the rules
JSON Schema cannot express (:func:`definition_problems`), and hashed over its canonical bytes.

A released version never changes: ``definitions/versions.lock.json`` records the hash of every
``id@version``, and loading refuses a file whose content no longer matches its recorded hash. To
change a procedure, copy the file to the next version, edit it, and record it with
:func:`write_version_lock`. Old versions stay loadable because applications keep the version they
were made with.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml
from jsonschema import Draft202012Validator

from jichitai.platform.errors import ConfigurationError, NotFound
from jichitai.procedures.canonical import canonical_form_bytes
from jichitai.procedures.model import Category, HandledBy, OfferedBy, ProcedureDefinition
from jichitai.procedures.validation import lint_form_schema

DEFINITIONS_DIR: Final = Path(str(resources.files("jichitai.procedures") / "definitions"))
LOCK_FILE_NAME: Final = "versions.lock.json"
_FILE_NAME: Final = re.compile(r"^(?P<id>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.yaml$")
_REF: Final = re.compile(r"^(?P<id>[a-z][a-z0-9_]*)@(?P<version>[1-9][0-9]*)$")

# The procedures whose applications go to this project's 児童手当 system today; the others wait in
# the generic case inbox until their core systems exist.
CHILD_ALLOWANCE_HANDLED: Final = frozenset({1, 2, 3, 4, 5, 6, 7, 10})
_CATEGORY_BY_NUMBER: Final = (
    (range(1, 16), Category.CHILDCARE),
    (range(16, 27), Category.CARE),
    (range(27, 28), Category.DISASTER),
    (range(28, 32), Category.VEHICLE),
)


class DefinitionError(ConfigurationError):
    """A definition file that cannot be used as it is."""


# libyaml's parser (PyYAML's wheels bundle it): the pure-Python parser takes a second for 31 forms.
class _JsonLoader(yaml.CSafeLoader):
    """YAML restricted to JSON types: ``2024-04-01`` stays a string, as JSON Schema expects."""


_JsonLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


@cache
def _meta_validator() -> Draft202012Validator:
    text = (resources.files("jichitai.procedures") / "definition.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def content_hash(raw: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical bytes of a definition."""
    return hashlib.sha256(canonical_form_bytes(raw)).hexdigest()


def definition_problems(raw: Mapping[str, Any]) -> list[str]:
    """Everything wrong with a definition mapping, in English; [] when it can be used."""
    problems = [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in sorted(_meta_validator().iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        return problems
    problems.extend(lint_form_schema(raw["form"]))
    number = raw["number"]
    expected_category = next(cat for numbers, cat in _CATEGORY_BY_NUMBER if number in numbers)
    if raw["category"] != expected_category:
        problems.append(f"procedure {number} belongs to category {expected_category}, not {raw['category']}")
    expected_offer = OfferedBy.PREFECTURE if number >= 28 else OfferedBy.MUNICIPALITY
    if raw["offered_by"] != expected_offer:
        problems.append(f"procedure {number} is offered by {expected_offer}")
    expected_handler = HandledBy.CHILD_ALLOWANCE if number in CHILD_ALLOWANCE_HANDLED else HandledBy.GENERIC
    if raw["handled_by"] != expected_handler:
        problems.append(f"procedure {number} is handled by {expected_handler}")
    if raw["handled_by"] == HandledBy.CHILD_ALLOWANCE and raw["receiving_system"] != "child_allowance":
        problems.append("handled_by child_allowance needs receiving_system child_allowance")
    kinds = [a["kind"] for a in raw["attachments"]]
    if len(kinds) != len(set(kinds)):
        problems.append("attachment kinds must be unique")
    for a in raw["attachments"]:
        if a["min_count"] > a["max_count"]:
            problems.append(f"attachment {a['kind']}: min_count exceeds max_count")
        if "required_when" in a:
            try:
                Draft202012Validator.check_schema(a["required_when"])
            except Exception as exc:
                problems.append(f"attachment {a['kind']}: required_when is not a JSON Schema ({exc})")
    if "attachments" in raw["form"]["properties"]:
        problems.append("form property 'attachments' is reserved for attachment messages")
    return problems


_CHECKED: set[str] = set()


def build_definition(raw: Mapping[str, Any], *, where: str = "definition") -> ProcedureDefinition:
    """Check and hash a definition mapping; raises :class:`DefinitionError` listing every problem."""
    try:
        digest = content_hash(raw)
    except Exception as exc:
        raise DefinitionError(f"{where}: not plain JSON data ({exc})") from exc
    # Checking a form against the JSON Schema meta-schema costs ~20 ms; content already found
    # good (same hash) need not be checked again.
    problems = [] if digest in _CHECKED else definition_problems(raw)
    if problems:
        raise DefinitionError(
            f"{where}: {len(problems)} problem(s): " + "; ".join(problems[:20]),
            hint="fix the definition file; see jichitai/procedures/definition.schema.json",
        )
    _CHECKED.add(digest)
    return ProcedureDefinition.from_raw(raw, digest)


def load_definition_file(path: Path) -> ProcedureDefinition:
    m = _FILE_NAME.match(path.name)
    if not m:
        raise DefinitionError(f"{path.name}: definition files are named <id>.v<version>.yaml")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_JsonLoader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path.name}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise DefinitionError(f"{path.name}: a definition is a mapping")
    defn = build_definition(raw, where=path.name)
    if defn.id != m["id"] or defn.version != int(m["version"]):
        raise DefinitionError(f"{path.name}: file name does not match id {defn.id!r} version {defn.version}")
    return defn


def read_version_lock(directory: Path) -> dict[str, str]:
    path = directory / LOCK_FILE_NAME
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise DefinitionError(f"{path}: the lock is a JSON object of id@version to sha256")
    return {str(k): str(v) for k, v in data.items()}


def write_version_lock(directory: Path = DEFINITIONS_DIR) -> dict[str, str]:
    """Record the hash of every definition not yet recorded; recorded ones must be unchanged.

    Returns the new lock. Refuses (without writing) when a recorded version changed: that change
    belongs in a new version.
    """
    lock = read_version_lock(directory)
    catalog = Catalog.load(directory, verify_lock=False)
    for defn in catalog.all_versions():
        recorded = lock.get(defn.ref)
        if recorded is not None and recorded != defn.content_hash:
            raise DefinitionError(
                f"{defn.ref} changed after release",
                hint=f"restore it and put the change into {defn.id}.v{defn.version + 1}.yaml",
            )
        lock[defn.ref] = defn.content_hash
    text = json.dumps(dict(sorted(lock.items())), indent=2, ensure_ascii=False) + "\n"
    (directory / LOCK_FILE_NAME).write_text(text, encoding="utf-8")
    return lock


def parse_ref(ref: str) -> tuple[str, int]:
    """``child_allowance_claim@1`` → (``child_allowance_claim``, 1)."""
    m = _REF.match(ref)
    if not m:
        raise NotFound(f"not a procedure reference: {ref!r}", hint="write <id>@<version>")
    return m["id"], int(m["version"])


class Catalog:
    """All procedure definitions, every version, by id."""

    def __init__(self, definitions: Iterable[ProcedureDefinition]) -> None:
        self._by_ref: dict[str, ProcedureDefinition] = {}
        self._versions: dict[str, list[ProcedureDefinition]] = {}
        for d in definitions:
            if d.ref in self._by_ref:
                raise DefinitionError(f"{d.ref} is defined twice")
            self._by_ref[d.ref] = d
            self._versions.setdefault(d.id, []).append(d)
        numbers: dict[int, str] = {}
        for pid, versions in self._versions.items():
            versions.sort(key=lambda d: d.version)
            for d in versions:
                if numbers.setdefault(d.number, pid) != pid:
                    raise DefinitionError(
                        f"procedure number {d.number} is used by {numbers[d.number]} and {pid}"
                    )

    @classmethod
    def load(cls, directory: Path = DEFINITIONS_DIR, *, verify_lock: bool = True) -> Catalog:
        """Load every ``*.yaml`` in ``directory``; with ``verify_lock`` each must match its recorded hash."""
        files = sorted(directory.glob("*.yaml"))
        if not files:
            raise DefinitionError(f"no procedure definitions in {directory}")
        catalog = cls(load_definition_file(f) for f in files)
        if verify_lock:
            lock = read_version_lock(directory)
            for d in catalog.all_versions():
                recorded = lock.get(d.ref)
                if recorded is None:
                    raise DefinitionError(
                        f"{d.ref} is not recorded in {LOCK_FILE_NAME}",
                        hint="record new versions with jichitai.procedures.catalog.write_version_lock()",
                    )
                if recorded != d.content_hash:
                    raise DefinitionError(
                        f"{d.ref} differs from its released content (hash {d.content_hash[:12]}…, "
                        f"recorded {recorded[:12]}…)",
                        hint=f"put the change into a new version, {d.id}.v{d.version + 1}.yaml",
                    )
        return catalog

    def get(self, procedure_id: str, version: int | None = None) -> ProcedureDefinition:
        """One version of a procedure; the latest when ``version`` is None."""
        versions = self._versions.get(procedure_id)
        if not versions:
            raise NotFound(f"no procedure {procedure_id!r}", message_ja="指定された手続は見つかりません")
        if version is None:
            return versions[-1]
        found = self._by_ref.get(f"{procedure_id}@{version}")
        if found is None:
            raise NotFound(
                f"no version {version} of {procedure_id}", message_ja="指定された版の手続は見つかりません"
            )
        return found

    def get_ref(self, ref: str) -> ProcedureDefinition:
        """By ``id@version`` as recorded on an application."""
        pid, version = parse_ref(ref)
        return self.get(pid, version)

    def by_number(self, number: int) -> ProcedureDefinition:
        for versions in self._versions.values():
            if versions[-1].number == number:
                return versions[-1]
        raise NotFound(f"no procedure number {number}")

    def versions(self, procedure_id: str) -> tuple[ProcedureDefinition, ...]:
        return tuple(self._versions.get(procedure_id, ()))

    def all_versions(self) -> list[ProcedureDefinition]:
        return sorted(self._by_ref.values(), key=lambda d: (d.number, d.version))

    def latest(self) -> list[ProcedureDefinition]:
        """The current version of every procedure, in the order of the national list (1–31)."""
        return sorted((v[-1] for v in self._versions.values()), key=lambda d: d.number)

    def select(
        self,
        *,
        category: Category | str | None = None,
        life_event: str | None = None,
        offered_by: OfferedBy | str | None = None,
    ) -> list[ProcedureDefinition]:
        """Current versions filtered by category, life event (ライフイベント) and offering body."""
        return [
            d
            for d in self.latest()
            if (category is None or d.category == category)
            and (life_event is None or life_event in d.life_events)
            and (offered_by is None or d.offered_by == offered_by)
        ]

    def life_events(self) -> list[str]:
        """Life events used by at least one procedure, in catalog order."""
        seen: dict[str, None] = {}
        for d in self.latest():
            for e in d.life_events:
                seen.setdefault(e, None)
        return list(seen)

    def __len__(self) -> int:
        return len(self._versions)

    def __contains__(self, procedure_id: object) -> bool:
        return procedure_id in self._versions


@cache
def default_catalog() -> Catalog:
    """The catalog shipped with the package (loaded once per process)."""
    return Catalog.load()
