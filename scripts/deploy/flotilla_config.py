"""Flotilla's configuration as a process in a pod would resolve it, read from the repository.

The manifests must agree with the services: the ports they listen on, the probes' paths and
ports, the drain delay and shutdown deadline, the database and bus backends. Those come from
where the binary takes them, not from a copy:

- the registered services (crates/flotilla/src/registry.rs) and, for each, its
  `ServiceDefinition` (services/<dir>/src/lib.rs: name, default_port, public_api) and whether
  its crate depends on flotilla-messaging (services/<dir>/Cargo.toml);
- the layers of ADR 0004, lowest first: crates/chassis/src/config/defaults.toml, then
  config/<env>.toml, then FLOTILLA_* variables with `__` between levels (here: those of the
  container, from its ConfigMaps and its own `env`), mapped to keys exactly as
  crates/chassis/src/config/mod.rs does (`env_key`, `is_config_key`).
"""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "FLOTILLA_"
# crates/chassis/src/config/mod.rs, `is_config_key`.
ROOTS = ("env", "data_dir", "public_url", "log", "traces", "http", "database", "auth", "services", "bus")
# A secret's value is not in the manifests; the key is set, to something.
SECRET = object()


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    crate: str
    default_port: int
    public_api: bool
    uses_bus: bool


def _crates() -> dict[str, Path]:
    """Crate name -> directory, for every crate under services/."""
    out = {}
    for manifest in sorted((ROOT / "services").glob("*/Cargo.toml")):
        package = tomllib.loads(manifest.read_text()).get("package", {})
        if "name" in package:
            out[package["name"]] = manifest.parent
    return out


@cache
def registered_services() -> tuple[ServiceDefinition, ...]:
    """The services the binary registers, in registry order."""
    registry = (ROOT / "crates/flotilla/src/registry.rs").read_text()
    block = re.search(r"pub static SERVICES[^=]*=\s*&\[(.*?)\];", registry, re.DOTALL)
    if not block:
        raise RuntimeError("crates/flotilla/src/registry.rs: no `SERVICES` list found")
    crates = _crates()
    services = []
    for crate in re.findall(r"&\s*([a-z0-9_]+)::SERVICE\b", block.group(1)):
        directory = crates.get(crate.replace("_", "-"))
        if directory is None:
            raise RuntimeError(f"registry.rs names {crate}, which is no crate under services/")
        lib = (directory / "src/lib.rs").read_text()
        definition = re.search(
            r"static SERVICE\s*:\s*ServiceDefinition\s*=\s*ServiceDefinition\s*\{(.*?)\n\};", lib, re.DOTALL
        )
        if not definition:
            raise RuntimeError(f"{directory}/src/lib.rs: no `static SERVICE: ServiceDefinition` found")
        body = definition.group(1)

        def field(name: str, pattern: str, body: str = body, directory: Path = directory) -> str:
            found = re.search(rf"\b{name}\s*:\s*{pattern}\s*,", body)
            if not found:
                raise RuntimeError(f"{directory}/src/lib.rs: SERVICE.{name} is not a literal this check can read")
            return found.group(1)

        manifest = tomllib.loads((directory / "Cargo.toml").read_text())
        services.append(
            ServiceDefinition(
                name=field("name", r'"([a-z0-9-]+)"'),
                crate=crate,
                default_port=int(field("default_port", r"(\d+)")),
                public_api=field("public_api", r"(true|false)") == "true",
                uses_bus="flotilla-messaging" in manifest.get("dependencies", {}),
            )
        )
    return tuple(services)


def service(name: str) -> ServiceDefinition | None:
    return next((s for s in registered_services() if s.name == name), None)


@cache
def _file_layers(env: str) -> dict[str, Any]:
    merged = tomllib.loads((ROOT / "crates/chassis/src/config/defaults.toml").read_text())
    path = ROOT / "config" / f"{env}.toml"
    if path.is_file():
        _merge(merged, tomllib.loads(path.read_text()))
    elif env != "dev":
        # As Config::load: outside dev a missing file stops the process.
        raise RuntimeError(f"config/{env}.toml does not exist, and {env} needs it")
    return merged


def _merge(into: dict[str, Any], layer: dict[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def is_config_key(variable: str) -> bool:
    """Whether a FLOTILLA_ variable (prefix stripped) is read as configuration."""
    key = variable.lower()
    first = key.split("__")[0]
    return any(first == root or (first.startswith(root) and first[len(root) :].startswith("_")) for root in ROOTS)


def env_key(variable: str) -> str:
    """The dotted key a FLOTILLA_ variable (prefix stripped) sets; a service's `_` is its `-`."""
    key = variable.lower().replace("__", ".")
    if key.startswith("services."):
        service_name, _, rest = key[len("services.") :].partition(".")
        if rest:
            return f"services.{service_name.replace('_', '-')}.{rest}"
    return key


def _parse(value: str) -> Any:
    # figment reads a variable's text as a TOML-ish value: numbers and booleans typed.
    text = value.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"[+-]?\d+\.\d+", text):
        return float(text)
    if text in ("true", "false"):
        return text == "true"
    return value


class Resolved:
    """One process's configuration: the file layers for its environment under its variables."""

    def __init__(self, variables: dict[str, Any]):
        env = variables.get("FLOTILLA_ENV", "dev")
        self.env = env if isinstance(env, str) else "dev"
        self.variables = variables
        self.tree = copy.deepcopy(_file_layers(self.env))
        # Variable names sorted as figment sees them does not matter: each sets its own key.
        for name, value in variables.items():
            if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}ENV":
                continue
            stripped = name[len(ENV_PREFIX) :]
            if not is_config_key(stripped):
                continue
            self._set(env_key(stripped), value if value is SECRET else _parse(value))
        self.tree["env"] = self.env

    def _set(self, dotted: str, value: Any) -> None:
        node = self.tree
        *parents, last = dotted.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.tree
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def is_set(self, dotted: str) -> bool:
        return self.get(dotted, _MISSING) is not _MISSING

    def port(self, name: str) -> int | None:
        """services.<name>.port, else the definition's default."""
        configured = self.get(f"services.{name}.port")
        if configured is not None:
            return int(configured)
        definition = service(name)
        return definition.default_port if definition else None

    def ops_port(self, name: str) -> int | None:
        value = self.get(f"services.{name}.ops_port")
        return int(value) if value is not None else None


_MISSING = object()
