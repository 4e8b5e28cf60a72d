#!/usr/bin/env python3
"""Keeps only what validation needs from a CustomResourceDefinition: the openAPIV3Schema of each
served version, as JSON, with the CRD's group, kind and version beside it.

    git -C <cloudnative-pg checkout> show v1.30.0:config/crd/bases/postgresql.cnpg.io_clusters.yaml \
      | scripts/deploy/crd_schema.py > deploy/k8s/crds/postgresql.cnpg.io_clusters.json

deploy/k8s/crds/README.md says where the committed ones come from.
"""

import json
import sys

import yaml


def main() -> int:
    crd = yaml.safe_load(sys.stdin)
    if crd.get("kind") != "CustomResourceDefinition":
        print("expected a CustomResourceDefinition on standard input", file=sys.stderr)
        return 2
    spec = crd["spec"]
    versions = {
        v["name"]: v["schema"]["openAPIV3Schema"] for v in spec["versions"] if v.get("served") and v.get("schema")
    }
    out = {"group": spec["group"], "kind": spec["names"]["kind"], "versions": versions}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
