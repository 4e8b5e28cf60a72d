#!/usr/bin/env python3
"""Validates rendered Kubernetes objects against their schemas, offline.

Built-in kinds go through kubernetes-validate (the API server's OpenAPI schemas for the pinned
Kubernetes version) in strict mode, so an unknown field is an error rather than something the
API server would drop in silence. Custom resources go through the openAPIV3Schema of their
CustomResourceDefinition, kept in deploy/k8s/crds/, made just as strict: an object schema that
lists its properties and neither allows others nor preserves unknown fields refuses any other.
An object whose kind has no schema in either place is an error too: nothing passes unvalidated.

    scripts/deploy/validate.py [--self-test] FILE...     (multi-document YAML, e.g. a render)

Used by scripts/deploy/check.sh; exit 1 on any invalid object.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

KUBERNETES_VERSION = "1.32"
ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "deploy" / "k8s" / "crds"


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [d for d in yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]


def describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


@functools.cache
def _kubernetes_validate():
    import kubernetes_validate
    from kubernetes_validate import utils

    # Each object would otherwise reload its kind's schema and the shared definitions (MBs of JSON).
    utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)
    return kubernetes_validate, utils


# ---------------------------------------------------------------------------------------------
# Custom resources


def strict_schema(schema: Any) -> Any:
    """The CRD's structural schema as JSON Schema, refusing unknown fields where the API server
    would prune them, and with OpenAPI's `nullable` and int-or-string spelt out."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
    if (
        schema.get("type") == "object"
        and "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """(apiVersion, kind) -> a validator, for every schema kept in deploy/k8s/crds/."""
    validators = {}
    for path in sorted(CRDS.glob("*.json")):
        crd = json.loads(path.read_text())
        for version, schema in crd["versions"].items():
            schema = strict_schema(schema)
            # Whatever the CRD says of metadata, it is an ObjectMeta; names are checked below.
            schema["properties"]["metadata"] = {"type": "object"}
            schema.setdefault("required", [])
            for key in ("apiVersion", "kind", "metadata", "spec"):
                if key in schema["properties"] and key not in schema["required"]:
                    schema["required"].append(key)
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
            validators[(f"{crd['group']}/{version}", crd["kind"])] = cls(schema)
    return validators


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(root)"


def validate_object(obj: dict[str, Any]) -> list[str]:
    """Every schema error of one object, each naming the object and the field."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    custom = crd_validators().get((api_version, kind))
    if custom is not None:
        errors = sorted(custom.iter_errors(obj), key=lambda e: list(e.absolute_path))
        problems = [f"{describe(obj)}: {_path(e)}: {e.message}" for e in errors]
        name = (obj.get("metadata") or {}).get("name", "")
        if (
            not name
            or len(name) > 253
            or not all(c.isalnum() and c.islower() or c.isdigit() or c in "-." for c in name)
        ):
            problems.append(f"{describe(obj)}: metadata.name: not a DNS subdomain name")
        return problems
    kv, utils = _kubernetes_validate()
    try:
        kv.validate(obj, KUBERNETES_VERSION, strict=True)
    except utils.SchemaNotFoundError:
        where = f"neither in Kubernetes {KUBERNETES_VERSION} nor in deploy/k8s/crds/"
        return [f"{describe(obj)}: no schema for {api_version} {kind}, {where}"]
    except utils.ValidationError as e:
        return [f"{describe(obj)}: {_path(e)}: {e.message} (Kubernetes {KUBERNETES_VERSION}, strict)"]
    return []


def validate_all(objects: Iterable[dict[str, Any]]) -> list[str]:
    return [problem for obj in objects for problem in validate_object(obj)]


# ---------------------------------------------------------------------------------------------
# Self-test: a validator that accepts everything would let every render pass.


def self_test(objects: list[dict[str, Any]]) -> list[str]:
    """Breaks valid objects in ways each schema must refuse; returns what was not refused."""
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], obj)
    needed = {"Deployment", "NetworkPolicy", "Cluster", "Database"}
    missing = needed - by_kind.keys()
    if missing:
        return [f"self-test: the render has no {', '.join(sorted(missing))} to break"]

    def broken(kind: str, change) -> dict[str, Any]:
        obj = copy.deepcopy(by_kind[kind])
        change(obj)
        return obj

    def container(obj):
        return obj["spec"]["template"]["spec"]["containers"][0]

    cases = [
        ("a misspelt container field", broken("Deployment", lambda o: container(o).update(readinesProbe={}))),
        ("a string where a number goes", broken("Deployment", lambda o: o["spec"].update(revisionHistoryLimit="5"))),
        ("a misspelt policy field", broken("NetworkPolicy", lambda o: o["spec"].update(podSelectors={}))),
        ("a kind nobody defines", broken("Deployment", lambda o: o.update(kind="Deploymint"))),
        ("a Cluster's instances as text", broken("Cluster", lambda o: o["spec"].update(instances="three"))),
        ("an unknown Cluster field", broken("Cluster", lambda o: o["spec"].update(instance=3))),
        (
            "a role's unknown attribute",
            broken("Cluster", lambda o: o["spec"]["managed"]["roles"][0].update(superuzer=True)),
        ),
        ("a Database without its owner", broken("Database", lambda o: o["spec"].pop("owner"))),
        ("an enum outside its values", broken("Database", lambda o: o["spec"].update(ensure="maybe"))),
    ]
    failures = []
    for what, obj in cases:
        if not validate_object(obj):
            failures.append(f"self-test: {what} ({describe(obj)}) was accepted")
    for obj in by_kind.values():
        for problem in validate_object(obj):
            failures.append(f"self-test: the unbroken object was refused: {problem}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--self-test", action="store_true", help="first prove that broken objects are refused")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    failed = False
    for path in args.files:
        objects = load_documents(path)
        if args.self_test:
            failures = self_test(objects)
            for failure in failures:
                print(failure, file=sys.stderr)
            failed |= bool(failures)
        problems = validate_all(objects)
        for problem in problems:
            print(f"{path.name}: {problem}", file=sys.stderr)
        failed |= bool(problems)
        print(f"{path.name}: {len(objects)} objects, {len(problems)} schema errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
