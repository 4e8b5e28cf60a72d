#!/usr/bin/env python3
"""Policy tests over the rendered overlays: what a manifest must be for Flotilla to run safely,
and that it says what the services' configuration says.

    scripts/deploy/policy.py ENV=RENDER.yaml ...     (e.g. prod=/tmp/prod.yaml)
    scripts/deploy/policy.py --self-test ENV=RENDER.yaml ...

Every rule has an id (first column of a violation). The rules:

  probes                 every container has startup, liveness and readiness probes
  resources              every container, init containers too, requests and limits cpu and memory
  non-root               runAsNonRoot, and no runAsUser 0, for every container
  read-only-root         readOnlyRootFilesystem for every container
  capabilities           capabilities drop ALL, none added, no privilege escalation, not privileged
  seccomp                seccompProfile RuntimeDefault (or Localhost)
  service-account-token  no pod mounts a service account token
  host                   no host network, PID, IPC or hostPath volume
  images                 every image has a tag that is not `latest`
  default-deny           every namespace has a NetworkPolicy selecting all pods, denying ingress and egress
  namespace              every namespace is declared, Pod Security `restricted`, with a quota and limits
  quota                  the workloads at their autoscalers' maximum, plus a rollout's surge, fit the quota
  services               every registered service is deployed (except where the environment says why
                         not), as `flotilla serve <name>` after `flotilla migrate <name>`
  environment            FLOTILLA_ENV is the overlay's environment
  config                 the resolved configuration suits a pod: every interface, PostgreSQL, NATS for
                         services on the bus, migrations by the init container, a writable data_dir
  ports                  container ports are the ports the configuration resolves (ops_port too)
  probe-paths            probes ask /livez (startup, liveness) and /readyz (readiness) on the port the
                         service serves them on (ops_port when set)
  service-object         each service's Service selects its pods, on its configured port
  addresses              services.<name>.url of every service names its Service and port; the issuer is
                         https; payments has a processor to call
  shutdown               one of preStop and the service's drain delay waits, not both, not neither; the
                         grace period covers drain + 3 x shutdown deadline + a margin
  secrets                no Secret in the manifests, no secret-looking value in a ConfigMap or literal, the
                         secrets each service needs come from Secret references
  bus                    the flotilla/bus label is on exactly the services whose crate uses the bus
  autoscaling            each service has an autoscaler and a disruption budget that lets drains proceed
  network                the NetworkPolicies allow each call the system makes and no other between its pods
  ingress                the Ingress serves public_url's host to the gateway and auth.issuer's to identity
  databases              a role and a database per service, as the service names them, with its Secret
  connections            each role's connection limit, and the cluster's max_connections, cover the pods
                         at their maximum times database.max_connections
  nats                   three servers, fsync on every write, routes to each, store on the volume, lame duck
                         shutdown inside the grace period, the services' replicas and URL match

--self-test breaks a render in one way per rule and fails unless each break is refused by the
rule meant to catch it, and the unbroken render passes.
"""

from __future__ import annotations

import argparse
import copy
import math
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flotilla_config as fc
import yaml

ENVIRONMENTS = ("dev", "staging", "prod")
# Registered services an environment does not run, and why.
NOT_DEPLOYED = {
    "prod": {"payment-provider": "a simulator of the card processor; prod calls the real one"},
}
# Seconds the grace period keeps beyond the longest shutdown the process can take.
GRACE_MARGIN_S = 5
# Connections PostgreSQL keeps for itself and CloudNativePG (superuser_reserved_connections,
# streaming replicas, the instance manager), out of max_connections.
RESERVED_CONNECTIONS = 10
FLOTILLA_LABEL = "app.kubernetes.io/component"
NAME_LABEL = "app.kubernetes.io/name"
BUS_LABEL = "flotilla/bus"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN|PRIVATE|CREDENTIAL|DATABASE__URL", re.IGNORECASE)
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}


@dataclass(frozen=True)
class Violation:
    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule:<22} {self.where}: {self.message}"


def load(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [d for d in yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def name_of(obj: dict[str, Any]) -> str:
    return meta(obj).get("name", "")


def where(obj: dict[str, Any], detail: str = "") -> str:
    ns = meta(obj).get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{name_of(obj)}{' ' + detail if detail else ''}"


# ---------------------------------------------------------------------------------------------
# Quantities


def cpu(quantity: Any) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


_BYTES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def size(quantity: Any) -> float:
    text = str(quantity)
    for suffix in sorted(_BYTES, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _BYTES[suffix]
    return float(text)


def nats_duration(text: str) -> float:
    seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    found = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text.strip().strip('"'))
    if not found:
        raise ValueError(f"not a duration: {text}")
    return float(found.group(1)) * seconds[found.group(2)]


# ---------------------------------------------------------------------------------------------
# The render, indexed


class Render:
    def __init__(self, env: str, objects: list[dict[str, Any]]):
        self.env = env
        self.objects = objects
        self.by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for obj in objects:
            self.by_kind[obj.get("kind", "")].append(obj)

    def find(self, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        return next(
            (o for o in self.by_kind[kind] if name_of(o) == name and meta(o).get("namespace") == namespace),
            None,
        )

    def namespaces(self) -> set[str]:
        found = {name_of(o) for o in self.by_kind["Namespace"]}
        found |= {meta(o)["namespace"] for o in self.objects if meta(o).get("namespace")}
        return found

    def pod_templates(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(workload, pod template) for every object that makes pods."""
        for obj in self.objects:
            kind = obj.get("kind")
            if kind not in POD_KINDS:
                continue
            if kind == "Pod":
                yield obj, obj
            elif kind == "CronJob":
                yield obj, obj["spec"]["jobTemplate"]["spec"]["template"]
            else:
                yield obj, obj["spec"]["template"]

    def flotilla_deployments(self) -> list[dict[str, Any]]:
        return [d for d in self.by_kind["Deployment"] if (meta(d).get("labels") or {}).get(FLOTILLA_LABEL) == "service"]

    def variables(self, container: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        """The container's environment as the process sees it (secrets' values unknown)."""
        out: dict[str, Any] = {}
        for source in container.get("envFrom") or []:
            ref = source.get("configMapRef")
            if ref:
                cm = self.find("ConfigMap", ref["name"], namespace)
                for key, value in ((cm or {}).get("data") or {}).items():
                    out[(source.get("prefix") or "") + key] = value
            if source.get("secretRef"):
                # Unknown keys: nothing to resolve, and the `secrets` rule refuses it anyway.
                pass
        for var in container.get("env") or []:
            if "value" in var:
                out[var["name"]] = str(var["value"])
            elif "secretKeyRef" in (var.get("valueFrom") or {}):
                out[var["name"]] = fc.SECRET
            elif "configMapKeyRef" in (var.get("valueFrom") or {}):
                ref = var["valueFrom"]["configMapKeyRef"]
                cm = self.find("ConfigMap", ref["name"], namespace)
                value = ((cm or {}).get("data") or {}).get(ref["key"])
                if value is not None:
                    out[var["name"]] = value
            else:
                out[var["name"]] = "<from the downward API>"
        return out


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    # Sidecars (init containers that keep running) are containers for probing purposes.
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return list(spec.get("containers") or []) + sidecars


def init_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in pod["spec"].get("initContainers") or [] if c.get("restartPolicy") != "Always"]


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions) against labels; {} matches everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def plain_selector(selector: dict[str, Any]) -> bool:
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def container_port(container: dict[str, Any], port: Any) -> int | None:
    """A probe's or Service's port (number or name) as the container port number."""
    if isinstance(port, int):
        return port
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return p.get("containerPort")
    return None


# ---------------------------------------------------------------------------------------------
# Rules: every pod


def rule_pod_security(r: Render) -> Iterator[Violation]:
    for workload, pod in r.pod_templates():
        spec = pod["spec"]
        pod_ctx = spec.get("securityContext") or {}
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(flag):
                yield Violation("host", where(workload), f"{flag} is set")
        for volume in spec.get("volumes") or []:
            if "hostPath" in volume:
                yield Violation("host", where(workload), f"volume {volume['name']} is a hostPath")
        automount = spec.get("automountServiceAccountToken")
        account = r.find("ServiceAccount", spec.get("serviceAccountName", "default"), meta(workload).get("namespace"))
        if automount is True or (
            automount is None and (account is None or account.get("automountServiceAccountToken") is not False)
        ):
            yield Violation(
                "service-account-token",
                where(workload),
                "the pod may mount a service account token (set automountServiceAccountToken: false)",
            )
        for c, is_init in [(c, False) for c in containers(pod)] + [(c, True) for c in init_containers(pod)]:
            at = where(workload, f"container {c['name']}")
            ctx = c.get("securityContext") or {}
            if not is_init:
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    if not c.get(probe):
                        yield Violation("probes", at, f"no {probe}")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (res.get(kind) or {}):
                        yield Violation("resources", at, f"no {kind}.{resource}")
            non_root = ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
            user = ctx.get("runAsUser", pod_ctx.get("runAsUser"))
            if non_root is not True:
                yield Violation("non-root", at, "runAsNonRoot is not true")
            if user == 0:
                yield Violation("non-root", at, "runAsUser is 0")
            if ctx.get("readOnlyRootFilesystem") is not True:
                yield Violation("read-only-root", at, "readOnlyRootFilesystem is not true")
            caps = ctx.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                yield Violation("capabilities", at, "capabilities do not drop ALL")
            if caps.get("add"):
                yield Violation("capabilities", at, f"capabilities add {caps['add']}")
            if ctx.get("allowPrivilegeEscalation") is not False:
                yield Violation("capabilities", at, "allowPrivilegeEscalation is not false")
            if ctx.get("privileged"):
                yield Violation("capabilities", at, "privileged")
            seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                yield Violation("seccomp", at, f"seccompProfile is {seccomp or 'unset'}, not RuntimeDefault")
            image = c.get("image", "")
            tail = image.rsplit("/", 1)[-1]
            if "@" not in tail and (":" not in tail or tail.endswith(":latest")):
                yield Violation("images", at, f"image {image!r} has no tag (or `latest`)")


# ---------------------------------------------------------------------------------------------
# Rules: namespaces


def is_default_deny(policy: dict[str, Any]) -> bool:
    spec = policy.get("spec") or {}
    return (
        plain_selector(spec.get("podSelector") or {})
        and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
        and not spec.get("ingress")
        and not spec.get("egress")
    )


def rule_namespaces(r: Render) -> Iterator[Violation]:
    declared = {name_of(o): o for o in r.by_kind["Namespace"]}
    for ns in sorted(r.namespaces()):
        if ns not in declared:
            yield Violation("namespace", f"namespace {ns}", "objects are in it, but the render does not declare it")
        else:
            labels = meta(declared[ns]).get("labels") or {}
            if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
                yield Violation("namespace", f"namespace {ns}", "Pod Security is not enforced at `restricted`")
        policies = [p for p in r.by_kind["NetworkPolicy"] if meta(p).get("namespace") == ns]
        if not any(is_default_deny(p) for p in policies):
            yield Violation(
                "default-deny",
                f"namespace {ns}",
                "no NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and no rules",
            )
        for kind in ("ResourceQuota", "LimitRange"):
            if not any(meta(o).get("namespace") == ns for o in r.by_kind[kind]):
                yield Violation("namespace", f"namespace {ns}", f"no {kind}")


def _surge(deployment: dict[str, Any], replicas: int) -> int:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        return math.ceil(replicas * int(surge[:-1]) / 100)
    return int(surge)


def _max_replicas(r: Render, workload: dict[str, Any]) -> int:
    ns = meta(workload).get("namespace")
    for hpa in r.by_kind["HorizontalPodAutoscaler"]:
        target = hpa["spec"]["scaleTargetRef"]
        if (
            meta(hpa).get("namespace") == ns
            and target["kind"] == workload["kind"]
            and target["name"] == name_of(workload)
        ):
            return int(hpa["spec"]["maxReplicas"])
    return int((workload.get("spec") or {}).get("replicas", 1))


def _pod_resources(pod: dict[str, Any]) -> dict[str, float]:
    """Effective requests and limits of one pod: the larger of its containers' sum and any init."""
    out: dict[str, float] = {}
    for kind in ("requests", "limits"):
        for resource, parse in (("cpu", cpu), ("memory", size)):
            key = f"{kind}.{resource}"
            total = sum(parse(((c.get("resources") or {}).get(kind) or {}).get(resource, 0)) for c in containers(pod))
            inits = [parse(((c.get("resources") or {}).get(kind) or {}).get(resource, 0)) for c in init_containers(pod)]
            out[key] = max([total, *inits])
    return out


def demand(r: Render, ns: str) -> dict[str, float]:
    """What the namespace's workloads use at their maximum: Deployments at their autoscaler's
    maximum plus a rollout's surge, StatefulSets at their replicas, a PostgreSQL cluster at its
    instances plus one (a new replica joining, a failover's new pod)."""
    need: dict[str, float] = defaultdict(float)
    for workload, pod in r.pod_templates():
        if meta(workload).get("namespace") != ns:
            continue
        replicas = _max_replicas(r, workload)
        if workload["kind"] == "Deployment":
            replicas += _surge(workload, replicas)
        for key, value in _pod_resources(pod).items():
            need[key] += replicas * value
        need["pods"] += replicas
        for claim in (workload.get("spec") or {}).get("volumeClaimTemplates") or []:
            need["requests.storage"] += replicas * size(claim["spec"]["resources"]["requests"]["storage"])
            need["persistentvolumeclaims"] += replicas
    for cluster in r.by_kind["Cluster"]:
        if meta(cluster).get("namespace") != ns:
            continue
        spec = cluster["spec"]
        instances = int(spec.get("instances", 1))
        res = spec.get("resources") or {}
        for kind in ("requests", "limits"):
            need[f"{kind}.cpu"] += (instances + 1) * cpu((res.get(kind) or {}).get("cpu", 0))
            need[f"{kind}.memory"] += (instances + 1) * size((res.get(kind) or {}).get("memory", 0))
        need["pods"] += instances + 1
        for volume in ("storage", "walStorage"):
            if spec.get(volume):
                need["requests.storage"] += instances * size(spec[volume]["size"])
                need["persistentvolumeclaims"] += instances
    return need


def rule_quota(r: Render) -> Iterator[Violation]:
    for quota in r.by_kind["ResourceQuota"]:
        ns = meta(quota).get("namespace")
        hard = quota["spec"].get("hard") or {}
        need = demand(r, ns)
        for key, value in sorted(need.items()):
            if key not in hard:
                continue
            limit = hard[key]
            limit = cpu(limit) if key.endswith(".cpu") else size(limit)
            if value > limit:
                shown = f"{value:g}" if not key.endswith(("memory", "storage")) else f"{value / 2**30:.2f}Gi"
                yield Violation(
                    "quota", where(quota), f"{key}: the workloads need {shown}, the quota allows {hard[key]}"
                )


# ---------------------------------------------------------------------------------------------
# Rules: Flotilla's services against their configuration


def _service_containers(deployment: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    spec = deployment["spec"]["template"]["spec"]
    main = next((c for c in spec.get("containers") or [] if (c.get("args") or [""])[0] == "serve"), None)
    init = next((c for c in spec.get("initContainers") or [] if (c.get("args") or [""])[0] == "migrate"), None)
    return main, init


def _workdir() -> str:
    containerfile = fc.ROOT / "deploy/image/Containerfile"
    if containerfile.is_file():
        found = re.findall(r"^WORKDIR\s+(\S+)", containerfile.read_text(), re.MULTILINE)
        if found:
            return found[-1]
    return "/"


def _prestop_ms(container: dict[str, Any]) -> tuple[int, str | None]:
    """How long the preStop hook waits, in ms, or why that cannot be known."""
    hook = ((container.get("lifecycle") or {}).get("preStop")) or {}
    if not hook:
        return 0, None
    if "sleep" in hook:
        return int(hook["sleep"]["seconds"]) * 1000, None
    command = (hook.get("exec") or {}).get("command") or []
    if len(command) == 2 and command[0].endswith("sleep") and command[1].isdigit():
        return int(command[1]) * 1000, None
    return 0, f"a preStop hook whose wait is unknown: {hook}"


def rule_services(r: Render) -> Iterator[Violation]:
    deployed = {name_of(d): d for d in r.flotilla_deployments()}
    registered = {s.name: s for s in fc.registered_services()}
    excused = NOT_DEPLOYED.get(r.env, {})
    for name in sorted(registered):
        if name not in deployed and name not in excused:
            yield Violation(
                "services",
                f"service {name}",
                f"registered (crates/flotilla/src/registry.rs) but not deployed in {r.env}",
            )
        if name in deployed and name in excused:
            yield Violation(
                "services", f"service {name}", f"deployed in {r.env}, which should not run it: {excused[name]}"
            )
    for name, deployment in sorted(deployed.items()):
        definition = registered.get(name)
        if definition is None:
            yield Violation(
                "services", where(deployment), "is not a registered service (crates/flotilla/src/registry.rs)"
            )
            continue
        yield from _check_service(r, deployment, definition, deployed)


def _check_service(
    r: Render, deployment: dict[str, Any], definition: fc.ServiceDefinition, deployed: dict
) -> Iterator[Violation]:
    name = definition.name
    ns = meta(deployment).get("namespace")
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    main, init = _service_containers(deployment)
    if main is None or main.get("args") != ["serve", name]:
        yield Violation("services", where(deployment), f"no container runs `flotilla serve {name}`")
        return
    if init is None or init.get("args") != ["migrate", name]:
        yield Violation(
            "services", where(deployment), f"no init container runs `flotilla migrate {name}` before it serves"
        )
    config = fc.Resolved(r.variables(main, ns))
    at = where(deployment, f"container {main['name']}")

    # environment and backends
    if config.env != r.env:
        yield Violation("environment", at, f"FLOTILLA_ENV is {config.env!r}, in the {r.env} overlay")
    host = str(config.get("http.host"))
    if host not in ("0.0.0.0", "::"):
        yield Violation(
            "config", at, f"http.host is {host}: the pod would not be reachable (set FLOTILLA_HTTP__HOST=0.0.0.0)"
        )
    if config.get("database.backend") != "postgres":
        yield Violation("config", at, f"database.backend is {config.get('database.backend')}, not postgres")
    if definition.uses_bus and config.get("bus.backend") != "nats":
        yield Violation(
            "config", at, f"{name} is on the bus, and bus.backend is {config.get('bus.backend', 'embedded')}, not nats"
        )
    if init is not None and config.get("database.migrate_on_start") is not False:
        yield Violation("config", at, "the init container migrates, yet database.migrate_on_start is not false")
    data_dir = str(config.get("data_dir"))
    data_path = data_dir if data_dir.startswith("/") else f"{_workdir().rstrip('/')}/{data_dir}"
    for c in [x for x in (main, init) if x is not None]:
        mounts = c.get("volumeMounts") or []
        if not any(
            (data_path + "/").startswith(m["mountPath"].rstrip("/") + "/") and not m.get("readOnly") for m in mounts
        ):
            yield Violation(
                "config", where(deployment, f"container {c['name']}"), f"data_dir {data_path} is on no writable volume"
            )
        if not any(m["mountPath"] == "/tmp" and not m.get("readOnly") for m in mounts):
            yield Violation("config", where(deployment, f"container {c['name']}"), "/tmp is on no writable volume")

    # ports and probes
    port = config.port(name)
    ops = config.ops_port(name)
    if container_port(main, "http") != port:
        yield Violation(
            "ports", at, f"container port http is {container_port(main, 'http')}, the configuration resolves {port}"
        )
    if ops is not None and container_port(main, "ops") != ops:
        yield Violation(
            "ports", at, f"services.{name}.ops_port is {ops}, the container port ops is {container_port(main, 'ops')}"
        )
    if ops is None and container_port(main, "ops") is not None:
        yield Violation("ports", at, f"a container port ops, but services.{name}.ops_port is not set")
    probe_port = ops if ops is not None else port
    for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = (main.get(probe) or {}).get("httpGet")
        if not get:
            yield Violation("probe-paths", at, f"{probe} is not an HTTP GET")
            continue
        if get.get("path") != path:
            yield Violation("probe-paths", at, f"{probe} asks {get.get('path')}, the service serves {path}")
        if container_port(main, get.get("port")) != probe_port:
            yield Violation(
                "probe-paths",
                at,
                f"{probe} asks port {get.get('port')} ({container_port(main, get.get('port'))}), the service serves it on {probe_port}",
            )

    # its Service
    svc = r.find("Service", name, ns)
    labels = pod["metadata"].get("labels") or {}
    if svc is None:
        yield Violation("service-object", where(deployment), f"no Service named {name}")
    else:
        if not svc["spec"].get("selector") or not selector_matches({"matchLabels": svc["spec"]["selector"]}, labels):
            yield Violation("service-object", where(svc), f"does not select {name}'s pods")
        http = next((p for p in svc["spec"].get("ports") or [] if p.get("name") == "http"), None)
        if (
            http is None
            or http.get("port") != port
            or container_port(main, http.get("targetPort", http.get("port"))) != port
        ):
            yield Violation("service-object", where(svc), f"port http does not reach {name} on {port}: {http}")

    # shutdown
    drain = int(config.get("http.drain_delay_ms"))
    deadline = int(config.get("http.shutdown_deadline_ms"))
    prestop, unknown = _prestop_ms(main)
    if unknown:
        yield Violation("shutdown", at, unknown)
    if prestop and drain:
        yield Violation(
            "shutdown",
            at,
            f"a preStop wait of {prestop} ms and http.drain_delay_ms = {drain}: the service drains by itself after "
            "SIGTERM, so the wait would be doubled",
        )
    if not prestop and not drain:
        yield Violation(
            "shutdown",
            at,
            "nothing waits for the endpoints to drop the pod (http.drain_delay_ms = 0 and no preStop): "
            "a rollout would refuse connections",
        )
    grace = spec.get("terminationGracePeriodSeconds", 30)
    needed = math.ceil((prestop + drain + 3 * deadline) / 1000) + GRACE_MARGIN_S
    if grace < needed:
        yield Violation(
            "shutdown",
            where(deployment),
            f"terminationGracePeriodSeconds is {grace}; the service may take {drain} ms draining, then up to "
            f"{deadline} ms each for requests, background work and trace export, so it needs {needed}",
        )

    # secrets it needs
    for c in [x for x in (main, init) if x is not None]:
        ref = next((v for v in c.get("env") or [] if v["name"] == "FLOTILLA_DATABASE__URL"), None)
        key_ref = ((ref or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
        if key_ref.get("name") != f"flotilla-{name}-db" or key_ref.get("key") != "url":
            yield Violation(
                "secrets",
                where(deployment, f"container {c['name']}"),
                f"FLOTILLA_DATABASE__URL is not the Secret flotilla-{name}-db's key url",
            )
    required = []
    if name in ("ordering", "identity"):
        required.append("services.ordering.client_secret")
    if name == "identity" and config.is_set("services.identity.admin.email"):
        required.append("services.identity.admin.password")
    if name == "payments" and r.env != "dev":
        required.append("services.payments.provider.api_key")
    if name == "payment-provider" and r.env != "dev":
        required.append("services.payment-provider.api_key")
    if name == "notifications" and config.is_set("services.notifications.smtp.password"):
        required.append("services.notifications.smtp.username")
    for key in required:
        if config.get(key) is not fc.SECRET:
            yield Violation(
                "secrets",
                at,
                f"{key} is {'a literal' if config.is_set(key) else 'not set'}, expected a Secret reference",
            )
    if name == "notifications" and r.env != "dev" and not config.get("services.notifications.smtp.host"):
        yield Violation("config", at, "outside dev there is no mail sink: services.notifications.smtp.host must be set")

    # addresses
    yield from _check_addresses(r, deployment, config, deployed)

    # the bus
    on_bus = labels.get(BUS_LABEL) == "true"
    if on_bus != definition.uses_bus:
        yield Violation(
            "bus",
            where(deployment),
            f"label {BUS_LABEL} is {'set' if on_bus else 'missing'}, yet {definition.crate} "
            f"{'does not depend' if not definition.uses_bus else 'depends'} on flotilla-messaging",
        )

    # autoscaling and disruption
    hpa = next(
        (
            h
            for h in r.by_kind["HorizontalPodAutoscaler"]
            if meta(h).get("namespace") == ns
            and h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
            and h["spec"]["scaleTargetRef"].get("name") == name
        ),
        None,
    )
    if hpa is None:
        yield Violation("autoscaling", where(deployment), "no HorizontalPodAutoscaler")
    elif not 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]:
        yield Violation("autoscaling", where(hpa), "minReplicas must be at least 1 and at most maxReplicas")
    pdbs = [
        p
        for p in r.by_kind["PodDisruptionBudget"]
        if meta(p).get("namespace") == ns and selector_matches(p["spec"].get("selector"), labels)
    ]
    if not pdbs:
        yield Violation("autoscaling", where(deployment), "no PodDisruptionBudget selects its pods")
    for pdb in pdbs:
        minimum = hpa["spec"].get("minReplicas", 1) if hpa else 1
        available = pdb["spec"].get("minAvailable")
        if isinstance(available, int) and available >= minimum:
            yield Violation(
                "autoscaling", where(pdb), f"minAvailable {available} with {minimum} replica(s) blocks every drain"
            )


def _check_addresses(r: Render, deployment: dict[str, Any], config: fc.Resolved, deployed: dict) -> Iterator[Violation]:
    ns = meta(deployment).get("namespace")
    at = where(deployment)
    for other in fc.registered_services():
        url = config.get(f"services.{other.name}.url")
        if other.name not in deployed:
            if url is not None and r.find("Service", urlsplit(str(url)).hostname or "", ns) is None:
                yield Violation(
                    "addresses", at, f"services.{other.name}.url is {url}, and nothing of that name runs here"
                )
            continue
        if url is None:
            yield Violation("addresses", at, f"services.{other.name}.url is not set (it would be a loopback address)")
            continue
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        svc_name = host.split(".")[0]
        if host not in (svc_name, f"{svc_name}.{ns}", f"{svc_name}.{ns}.svc", f"{svc_name}.{ns}.svc.cluster.local"):
            yield Violation("addresses", at, f"services.{other.name}.url is {url}: not a Service name in {ns}")
            continue
        svc = r.find("Service", svc_name, ns)
        other_port = fc.Resolved(r.variables(_service_containers(deployed[other.name])[0], ns)).port(other.name)
        if svc_name != other.name or svc is None:
            yield Violation("addresses", at, f"services.{other.name}.url is {url}, not {other.name}'s Service")
        elif parts.port not in [p.get("port") for p in svc["spec"].get("ports") or []] or parts.port != other_port:
            yield Violation(
                "addresses",
                at,
                f"services.{other.name}.url is {url}; {other.name} listens on {other_port} behind Service port(s) "
                f"{[p.get('port') for p in svc['spec'].get('ports') or []]}",
            )
    issuer = config.get("auth.issuer")
    if not issuer or urlsplit(str(issuer)).scheme != "https":
        yield Violation(
            "addresses", at, f"auth.issuer is {issuer}: every service checks it, and outside loopback it must be https"
        )
    if not config.get("public_url"):
        yield Violation(
            "addresses", at, "public_url is not set: the gateway would name its own pod address to browsers"
        )
    if name_of(deployment) == "payments" and "payment-provider" not in deployed:
        provider = config.get("services.payments.provider.url")
        if not provider or urlsplit(str(provider)).scheme != "https":
            yield Violation(
                "addresses",
                at,
                f"no payment-provider runs here, and services.payments.provider.url is {provider} (expected the processor's https URL)",
            )


def rule_secrets(r: Render) -> Iterator[Violation]:
    for secret in r.by_kind["Secret"]:
        yield Violation(
            "secrets", where(secret), "a Secret in the manifests: secrets are created outside them and referenced"
        )
    for cm in r.by_kind["ConfigMap"]:
        for key in cm.get("data") or {}:
            if SECRET_NAME.search(key):
                yield Violation("secrets", where(cm), f"{key} looks like a secret; reference a Secret instead")
    for workload, pod in r.pod_templates():
        for c in containers(pod) + init_containers(pod):
            for var in c.get("env") or []:
                if "value" in var and SECRET_NAME.search(var["name"]):
                    yield Violation(
                        "secrets", where(workload, f"container {c['name']}"), f"{var['name']} has a literal value"
                    )
            for source in c.get("envFrom") or []:
                if source.get("secretRef"):
                    yield Violation(
                        "secrets",
                        where(workload, f"container {c['name']}"),
                        "envFrom a whole Secret: reference each key by name",
                    )


# ---------------------------------------------------------------------------------------------
# Rules: network


def _pods(r: Render) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(namespace, labels, pod template) of every pod the render makes, and CloudNativePG's."""
    out = []
    for workload, pod in r.pod_templates():
        out.append((meta(workload).get("namespace"), (pod.get("metadata") or {}).get("labels") or {}, pod))
    for cluster in r.by_kind["Cluster"]:
        fake = {
            "spec": {"containers": [{"name": "postgres", "ports": [{"name": "postgresql", "containerPort": 5432}]}]}
        }
        out.append((meta(cluster).get("namespace"), {"cnpg.io/cluster": name_of(cluster)}, fake))
    return out


def _port_matches(rule_ports: list[dict[str, Any]] | None, dst_pod: dict[str, Any], port: int) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if "port" not in p:
            return True
        wanted = p["port"]
        if isinstance(wanted, str):
            if any(container_port(c, wanted) == port for c in containers(dst_pod)):
                return True
        elif wanted == port or (p.get("endPort") and wanted <= port <= p["endPort"]):
            return True
    return False


def _peer_matches(peer: dict[str, Any], ns: str, labels: dict[str, str], policy_ns: str) -> bool:
    if "ipBlock" in peer:
        return False  # pods are reached by pod selectors here; ipBlocks are for what is outside
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": ns}):
            return False
    elif ns != policy_ns:
        return False
    return selector_matches(peer.get("podSelector", {}), labels)


def allowed(r: Render, src: tuple, dst: tuple, port: int) -> bool:
    """Whether NetworkPolicies let pod src reach pod dst on port (both in the render)."""
    (src_ns, src_labels, _), (dst_ns, dst_labels, dst_pod) = src, dst

    def direction(pod_ns, pod_labels, kind, peers_key, peer_ns, peer_labels) -> bool:
        policies = [
            p
            for p in r.by_kind["NetworkPolicy"]
            if meta(p).get("namespace") == pod_ns
            and selector_matches(p["spec"].get("podSelector", {}), pod_labels)
            and kind in (p["spec"].get("policyTypes") or ["Ingress"])
        ]
        if not policies:
            return True  # not isolated in this direction
        for p in policies:
            for rule in p["spec"].get(kind.lower()) or []:
                peers = rule.get(peers_key)
                if peers is not None and not any(_peer_matches(x, peer_ns, peer_labels, pod_ns) for x in peers):
                    continue
                if _port_matches(rule.get("ports"), dst_pod, port):
                    return True
        return False

    return direction(src_ns, src_labels, "Egress", "to", dst_ns, dst_labels) and direction(
        dst_ns, dst_labels, "Ingress", "from", src_ns, src_labels
    )


def rule_network(r: Render) -> Iterator[Violation]:
    pods = _pods(r)
    services = {
        labels.get(NAME_LABEL): (ns, labels, pod) for ns, labels, pod in pods if labels.get(FLOTILLA_LABEL) == "service"
    }
    nats = [(ns, labels, pod) for ns, labels, pod in pods if labels.get(NAME_LABEL) == "nats"]
    postgres = [(ns, labels, pod) for ns, labels, pod in pods if "cnpg.io/cluster" in labels]
    definitions = {s.name: s for s in fc.registered_services()}

    def http_port(pod):
        return container_port(containers(pod)[0], "http")

    expected_calls = set()
    for name in services:
        if name != "gateway" and definitions.get(name) and definitions[name].public_api:
            expected_calls.add(("gateway", name))
    expected_calls |= {("ordering", "basket"), ("payments", "payment-provider")}
    for src_name, src in sorted(services.items()):
        for dst_name, dst in sorted(services.items()):
            if src_name == dst_name:
                continue
            want = (src_name, dst_name) in expected_calls
            got = allowed(r, src, dst, http_port(dst[2]))
            if want and not got:
                yield Violation(
                    "network", f"{src_name} -> {dst_name}", "a call the system makes, refused by the NetworkPolicies"
                )
            if got and not want:
                yield Violation(
                    "network", f"{src_name} -> {dst_name}", "allowed, but nothing in the system makes this call"
                )
        for server in nats:
            got = allowed(r, src, server, 4222)
            if got != bool(definitions.get(src_name) and definitions[src_name].uses_bus):
                yield Violation(
                    "network",
                    f"{src_name} -> nats:4222",
                    "allowed off the bus" if got else "refused, and it is on the bus",
                )
            break
        for db in postgres:
            if not allowed(r, src, db, 5432):
                yield Violation(
                    "network", f"{src_name} -> postgres:5432", "refused: the service cannot reach its database"
                )
    for a in nats:
        for b in nats:
            if not allowed(r, a, b, 6222):
                yield Violation("network", "nats -> nats:6222", "the servers cannot reach each other's routes")
            break
        break
    for server in nats:
        for db in postgres:
            if allowed(r, server, db, 5432):
                yield Violation("network", "nats -> postgres:5432", "allowed, and nothing needs it")
        break


def rule_ingress(r: Render) -> Iterator[Violation]:
    for deployment in r.flotilla_deployments():
        if name_of(deployment) != "gateway":
            continue
        ns = meta(deployment).get("namespace")
        config = fc.Resolved(r.variables(_service_containers(deployment)[0], ns))
        wanted = {
            "gateway": (urlsplit(str(config.get("public_url") or "")), ["/"]),
            "identity": (
                urlsplit(str(config.get("auth.issuer") or "")),
                ["/oauth2/", "/.well-known/openid-configuration"],
            ),
        }
        ingresses = [i for i in r.by_kind["Ingress"] if meta(i).get("namespace") == ns]
        for target, (url, paths) in wanted.items():
            svc = r.find("Service", target, ns)
            served = set()
            for ingress in ingresses:
                for rule in ingress["spec"].get("rules") or []:
                    if rule.get("host") != url.hostname:
                        continue
                    for path in (rule.get("http") or {}).get("paths") or []:
                        backend = (path.get("backend") or {}).get("service") or {}
                        port = backend.get("port") or {}
                        ports = [
                            p
                            for p in (svc or {}).get("spec", {}).get("ports", [])
                            if p.get("name") == port.get("name") or p.get("port") == port.get("number")
                        ]
                        if backend.get("name") == target and ports:
                            served.add(path.get("path"))
                if url.scheme == "https" and not any(
                    url.hostname in (t.get("hosts") or []) for t in ingress["spec"].get("tls") or []
                ):
                    yield Violation(
                        "ingress", where(ingress), f"{url.hostname} is https in the configuration, and has no TLS here"
                    )
            for path in paths:
                if path not in served:
                    yield Violation(
                        "ingress", f"Ingress in {ns}", f"{url.scheme}://{url.hostname}{path} does not reach {target}"
                    )


# ---------------------------------------------------------------------------------------------
# Rules: the dependencies


def rule_databases(r: Render) -> Iterator[Violation]:
    deployed = {name_of(d): d for d in r.flotilla_deployments()}
    clusters = r.by_kind["Cluster"]
    if deployed and not clusters:
        yield Violation("databases", "render", "services run on PostgreSQL and no CloudNativePG Cluster is declared")
        return
    for cluster in clusters:
        spec = cluster["spec"]
        ns = meta(cluster).get("namespace")
        roles = {role["name"]: role for role in (spec.get("managed") or {}).get("roles") or []}
        databases = [
            d
            for d in r.by_kind["Database"]
            if meta(d).get("namespace") == ns and d["spec"]["cluster"]["name"] == name_of(cluster)
        ]
        if spec.get("enableSuperuserAccess"):
            yield Violation("databases", where(cluster), "enableSuperuserAccess: no service needs the superuser")
        res = spec.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (res.get(kind) or {}):
                    yield Violation(
                        "resources", where(cluster), f"no resources.{kind}.{resource} for the PostgreSQL pods"
                    )
        if r.env == "prod" and (
            int(spec.get("instances", 1)) < 3 or not (spec.get("postgresql") or {}).get("synchronous")
        ):
            yield Violation(
                "databases", where(cluster), "prod runs at least three instances with synchronous replication"
            )
        budget = 0
        owners: dict[str, str] = {}
        for name, deployment in sorted(deployed.items()):
            main, _ = _service_containers(deployment)
            config = fc.Resolved(r.variables(main, ns))
            database = f"{config.get('database.database_prefix')}{name}"
            secret = f"flotilla-{name}-db"
            db = next((d for d in databases if d["spec"].get("name") == database), None)
            if db is None:
                yield Violation(
                    "databases",
                    f"service {name}",
                    f"no Database named {database} (database_prefix + name) on {name_of(cluster)}",
                )
                continue
            role = roles.get(db["spec"].get("owner"))
            if role is None:
                yield Violation(
                    "databases",
                    where(db),
                    f"its owner {db['spec'].get('owner')} is not a managed role of {name_of(cluster)}",
                )
                continue
            if db["spec"].get("ensure", "present") != "present":
                yield Violation("databases", where(db), "is not ensured present")
            if owners.setdefault(role["name"], name) != name:
                yield Violation(
                    "databases", where(db), f"role {role['name']} already owns {owners[role['name']]}'s database"
                )
            if not role.get("login") or role.get("superuser") or role.get("ensure", "present") != "present":
                yield Violation("databases", f"role {role['name']}", "must be present, log in, and not be a superuser")
            if (role.get("passwordSecret") or {}).get("name") != secret:
                yield Violation(
                    "databases",
                    f"role {role['name']}",
                    f"its password is in {(role.get('passwordSecret') or {}).get('name')}, while {name} reads its URL from {secret}",
                )
            # connections
            hpa_max = _max_replicas(r, deployment)
            pods = hpa_max + _surge(deployment, hpa_max)
            need = pods * int(config.get("database.max_connections"))
            budget += need
            limit = role.get("connectionLimit", -1)
            if limit == -1 or limit < need:
                yield Violation(
                    "connections",
                    f"role {role['name']}",
                    f"connectionLimit {limit}; {name} runs up to {pods} pods of database.max_connections = "
                    f"{config.get('database.max_connections')}, so it needs {need}",
                )
        configured = int(((spec.get("postgresql") or {}).get("parameters") or {}).get("max_connections", 100))
        if budget + RESERVED_CONNECTIONS > configured:
            yield Violation(
                "connections",
                where(cluster),
                f"max_connections {configured}; the services need {budget} at their maximum, plus {RESERVED_CONNECTIONS} reserved",
            )


def _nats_conf(r: Render, sts: dict[str, Any]) -> str | None:
    ns = meta(sts).get("namespace")
    for volume in sts["spec"]["template"]["spec"].get("volumes") or []:
        if "configMap" in volume:
            cm = r.find("ConfigMap", volume["configMap"]["name"], ns)
            text = ((cm or {}).get("data") or {}).get("nats.conf")
            if text is not None:
                return text
    return None


def _block(text: str, name: str) -> str:
    found = re.search(rf"^\s*{name}\s*\{{(.*?)^\s*\}}", text, re.MULTILINE | re.DOTALL)
    return found.group(1) if found else ""


def rule_nats(r: Render) -> Iterator[Violation]:
    deployed = r.flotilla_deployments()
    on_bus = [d for d in deployed if (fc.service(name_of(d)) or fc.ServiceDefinition("", "", 0, False, False)).uses_bus]
    servers = [s for s in r.by_kind["StatefulSet"] if name_of(s) == "nats"]
    if on_bus and not servers:
        yield Violation("nats", "render", "services are on the bus and no NATS StatefulSet is declared")
        return
    for sts in servers:
        ns = meta(sts).get("namespace")
        replicas = int(sts["spec"].get("replicas", 1))
        at = where(sts)
        if replicas < 3:
            yield Violation("nats", at, f"{replicas} servers: a JetStream cluster needs three to survive losing one")
        text = _nats_conf(r, sts)
        if text is None:
            yield Violation("nats", at, "no nats.conf from a ConfigMap")
            continue
        body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        jetstream = _block(body, "jetstream")
        if not re.search(r"^\s*sync_interval\s*:\s*\"?always\"?\s*$", jetstream, re.MULTILINE):
            yield Violation(
                "nats", at, "jetstream.sync_interval is not `always`: acknowledged writes can be lost in a crash"
            )
        store = re.search(r"^\s*store_dir\s*:\s*\"?([^\s\"]+)", jetstream, re.MULTILINE)
        container = sts["spec"]["template"]["spec"]["containers"][0]
        claims = {c["metadata"]["name"] for c in sts["spec"].get("volumeClaimTemplates") or []}
        on_volume = store and any(
            (store.group(1) + "/").startswith(m["mountPath"].rstrip("/") + "/") and m["name"] in claims
            for m in container.get("volumeMounts") or []
        )
        if not on_volume:
            yield Violation(
                "nats", at, f"jetstream.store_dir ({store.group(1) if store else 'unset'}) is not on a volume claim"
            )
        routes = re.findall(r"nats://([^\s,\]]+)", _block(body, "cluster"))
        service = sts["spec"].get("serviceName")
        wanted = [f"{name_of(sts)}-{i}.{service}:6222" for i in range(replicas)]
        if sorted(routes) != wanted:
            yield Violation("nats", at, f"cluster routes are {routes}, expected one per server: {wanted}")
        headless = r.find("Service", service, ns)
        if (
            headless is None
            or headless["spec"].get("clusterIP") != "None"
            or not headless["spec"].get("publishNotReadyAddresses")
        ):
            yield Violation("nats", at, f"{service} must be a headless Service publishing not-ready addresses")
        duck = re.search(r"^\s*lame_duck_duration\s*:\s*(\S+)", body, re.MULTILINE)
        duck_grace = re.search(r"^\s*lame_duck_grace_period\s*:\s*(\S+)", body, re.MULTILINE)
        shutdown = (nats_duration(duck.group(1)) if duck else 120) + (
            nats_duration(duck_grace.group(1)) if duck_grace else 10
        )
        grace = sts["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        if grace < shutdown + GRACE_MARGIN_S:
            yield Violation(
                "nats", at, f"terminationGracePeriodSeconds {grace} < lame duck {shutdown:g} s + {GRACE_MARGIN_S} s"
            )
        hook = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command") or []
        if not any("ldm" in part for part in hook):
            yield Violation("nats", at, "no preStop hook puts the server in lame duck mode")
        labels = sts["spec"]["template"]["metadata"].get("labels") or {}
        if not any(
            meta(p).get("namespace") == ns and selector_matches(p["spec"].get("selector"), labels)
            for p in r.by_kind["PodDisruptionBudget"]
        ):
            yield Violation("nats", at, "no PodDisruptionBudget")
        for deployment in on_bus:
            if meta(deployment).get("namespace") != ns:
                continue
            config = fc.Resolved(r.variables(_service_containers(deployment)[0], ns))
            stream_replicas = int(config.get("bus.nats.replicas", 1))
            if not 3 <= stream_replicas <= replicas:
                yield Violation(
                    "nats",
                    where(deployment),
                    f"bus.nats.replicas is {stream_replicas}; with {replicas} servers it should be 3",
                )
            url = urlsplit(str(config.get("bus.nats.url", "")) if config.get("bus.nats.url") is not fc.SECRET else "")
            client = r.find("Service", (url.hostname or "").split(".")[0], ns)
            if (
                client is None
                or not selector_matches({"matchLabels": client["spec"].get("selector") or {}}, labels)
                or url.port not in [p.get("port") for p in client["spec"].get("ports") or []]
            ):
                yield Violation(
                    "nats",
                    where(deployment),
                    f"bus.nats.url {config.get('bus.nats.url')} does not name the NATS Service",
                )


RULES: list[Callable[[Render], Iterable[Violation]]] = [
    rule_pod_security,
    rule_namespaces,
    rule_quota,
    rule_services,
    rule_secrets,
    rule_network,
    rule_ingress,
    rule_databases,
    rule_nats,
]


def check(env: str, objects: list[dict[str, Any]]) -> list[Violation]:
    render = Render(env, objects)
    return [v for rule in RULES for v in rule(render)]


# ---------------------------------------------------------------------------------------------
# Self-test: each rule must refuse the break it exists for.


def _find(objects, kind, name):
    for obj in objects:
        if obj.get("kind") == kind and name_of(obj) == name:
            return obj
    raise LookupError(f"self-test: no {kind} {name} in the render")


def _container(objects, kind, name, index=0, init=False):
    spec = _find(objects, kind, name)["spec"]["template"]["spec"]
    return (spec["initContainers"] if init else spec["containers"])[index]


def _configmap(objects):
    return next(o for o in objects if o["kind"] == "ConfigMap" and name_of(o).startswith("flotilla-config"))


def _breaks() -> list[tuple[str, str, Callable[[list], None]]]:
    """(rule that must fire, what is broken, how) for the staging render."""

    def drop(mapping, key):
        mapping.pop(key)

    return [
        (
            "probes",
            "catalog without a readiness probe",
            lambda o: drop(_container(o, "Deployment", "catalog"), "readinessProbe"),
        ),
        (
            "probes",
            "nats without a liveness probe",
            lambda o: drop(_container(o, "StatefulSet", "nats"), "livenessProbe"),
        ),
        (
            "resources",
            "a migration without limits",
            lambda o: _container(o, "Deployment", "basket", init=True)["resources"].pop("limits"),
        ),
        (
            "resources",
            "nats without a memory request",
            lambda o: _container(o, "StatefulSet", "nats")["resources"]["requests"].pop("memory"),
        ),
        (
            "non-root",
            "identity allowed to run as root",
            lambda o: [
                _container(o, "Deployment", "identity")["securityContext"].update(runAsNonRoot=False),
            ],
        ),
        (
            "non-root",
            "shipping as user 0",
            lambda o: _container(o, "Deployment", "shipping")["securityContext"].update(runAsUser=0),
        ),
        (
            "read-only-root",
            "nats with a writable root",
            lambda o: _container(o, "StatefulSet", "nats")["securityContext"].update(readOnlyRootFilesystem=False),
        ),
        (
            "read-only-root",
            "payments' root unset",
            lambda o: drop(_container(o, "Deployment", "payments")["securityContext"], "readOnlyRootFilesystem"),
        ),
        (
            "capabilities",
            "gateway keeping its capabilities",
            lambda o: _container(o, "Deployment", "gateway")["securityContext"].pop("capabilities"),
        ),
        (
            "capabilities",
            "ordering adding NET_ADMIN",
            lambda o: _container(o, "Deployment", "ordering")["securityContext"]["capabilities"].update(
                add=["NET_ADMIN"]
            ),
        ),
        (
            "seccomp",
            "inventory unconfined",
            lambda o: [
                _container(o, "Deployment", "inventory")["securityContext"].update(
                    seccompProfile={"type": "Unconfined"}
                ),
            ],
        ),
        (
            "service-account-token",
            "notifications mounting a token",
            lambda o: _find(o, "Deployment", "notifications")["spec"]["template"]["spec"].update(
                automountServiceAccountToken=True
            ),
        ),
        (
            "images",
            "an untagged image",
            lambda o: _container(o, "Deployment", "catalog").update(image="ghcr.io/flotilla-dev/flotilla"),
        ),
        ("default-deny", "no default deny", lambda o: o.remove(_find(o, "NetworkPolicy", "default-deny"))),
        (
            "default-deny",
            "a default deny that denies only ingress",
            lambda o: _find(o, "NetworkPolicy", "default-deny")["spec"].update(policyTypes=["Ingress"]),
        ),
        ("namespace", "no LimitRange", lambda o: o.remove(next(x for x in o if x["kind"] == "LimitRange"))),
        (
            "quota",
            "a quota the services outgrow",
            lambda o: next(x for x in o if x["kind"] == "ResourceQuota")["spec"]["hard"].update(
                {"limits.memory": "4Gi"}
            ),
        ),
        ("services", "shipping not deployed", lambda o: o.remove(_find(o, "Deployment", "shipping"))),
        (
            "services",
            "no migration before catalog serves",
            lambda o: _find(o, "Deployment", "catalog")["spec"]["template"]["spec"].pop("initContainers"),
        ),
        (
            "environment",
            "the staging overlay configured as prod",
            lambda o: _configmap(o)["data"].update(FLOTILLA_ENV="prod"),
        ),
        ("config", "listening on loopback", lambda o: _configmap(o)["data"].update(FLOTILLA_HTTP__HOST="127.0.0.1")),
        (
            "config",
            "migrating at start as well",
            lambda o: _configmap(o)["data"].update(FLOTILLA_DATABASE__MIGRATE_ON_START="true"),
        ),
        (
            "ports",
            "the gateway's ops port moved in the manifest",
            lambda o: _container(o, "Deployment", "gateway")["ports"][1].update(containerPort=9081),
        ),
        (
            "ports",
            "catalog's port moved in the configuration",
            lambda o: _configmap(o)["data"].update(FLOTILLA_SERVICES__CATALOG__PORT="9082"),
        ),
        (
            "probe-paths",
            "readiness on /healthz",
            lambda o: _container(o, "Deployment", "basket")["readinessProbe"]["httpGet"].update(path="/healthz"),
        ),
        (
            "probe-paths",
            "the gateway probed on its public port",
            lambda o: _container(o, "Deployment", "gateway")["livenessProbe"]["httpGet"].update(port="http"),
        ),
        (
            "service-object",
            "a Service on the wrong port",
            lambda o: _find(o, "Service", "inventory")["spec"]["ports"][0].update(port=18085),
        ),
        (
            "addresses",
            "a URL on the wrong port",
            lambda o: _configmap(o)["data"].update(FLOTILLA_SERVICES__CATALOG__URL="http://catalog:8083"),
        ),
        ("addresses", "no URL for shipping", lambda o: _configmap(o)["data"].pop("FLOTILLA_SERVICES__SHIPPING__URL")),
        (
            "addresses",
            "a plain-http issuer",
            lambda o: _configmap(o)["data"].update(FLOTILLA_AUTH__ISSUER="http://id.staging.flotilla.example"),
        ),
        (
            "shutdown",
            "a grace period shorter than the drain",
            lambda o: _find(o, "Deployment", "payments")["spec"]["template"]["spec"].update(
                terminationGracePeriodSeconds=10
            ),
        ),
        (
            "shutdown",
            "a preStop sleep on top of the service's own drain",
            lambda o: _container(o, "Deployment", "catalog").update(lifecycle={"preStop": {"sleep": {"seconds": 5}}}),
        ),
        ("shutdown", "no drain at all", lambda o: _configmap(o)["data"].update(FLOTILLA_HTTP__DRAIN_DELAY_MS="0")),
        (
            "secrets",
            "a Secret with a value",
            lambda o: o.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "x", "namespace": "flotilla-staging"},
                    "stringData": {"url": "postgres://flotilla@db"},
                }
            ),
        ),
        (
            "secrets",
            "the database URL in the ConfigMap",
            lambda o: _configmap(o)["data"].update(FLOTILLA_DATABASE__URL="postgres://flotilla@db"),
        ),
        (
            "secrets",
            "ordering without its client secret",
            lambda o: _container(o, "Deployment", "ordering")["env"].pop(0),
        ),
        (
            "secrets",
            "the wrong database Secret",
            lambda o: _container(o, "Deployment", "catalog")["env"][0]["valueFrom"]["secretKeyRef"].update(
                name="flotilla-basket-db"
            ),
        ),
        (
            "bus",
            "ordering off the bus",
            lambda o: _find(o, "Deployment", "ordering")["spec"]["template"]["metadata"]["labels"].pop("flotilla/bus"),
        ),
        ("autoscaling", "no autoscaler for basket", lambda o: o.remove(_find(o, "HorizontalPodAutoscaler", "basket"))),
        (
            "network",
            "the gateway cut off from ordering",
            lambda o: _find(o, "NetworkPolicy", "gateway-upstreams")["spec"]["egress"][0]["to"][0]["podSelector"][
                "matchExpressions"
            ][0]["values"].remove("ordering"),
        ),
        (
            "network",
            "every pod allowed everywhere",
            lambda o: o.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": "allow-all", "namespace": "flotilla-staging"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}], "egress": [{}]},
                }
            ),
        ),
        (
            "ingress",
            "the Ingress on another host",
            lambda o: next(x for x in o if x["kind"] == "Ingress")["spec"]["rules"][0].update(host="shop.example.org"),
        ),
        ("databases", "no database for payments", lambda o: o.remove(_find(o, "Database", "flotilla-payments"))),
        (
            "databases",
            "a role with another Secret",
            lambda o: _find(o, "Cluster", "flotilla-pg")["spec"]["managed"]["roles"][0]["passwordSecret"].update(
                name="other"
            ),
        ),
        (
            "connections",
            "a role capped below its pods",
            lambda o: _find(o, "Cluster", "flotilla-pg")["spec"]["managed"]["roles"][2].update(connectionLimit=10),
        ),
        (
            "connections",
            "PostgreSQL's default max_connections",
            lambda o: _find(o, "Cluster", "flotilla-pg")["spec"]["postgresql"]["parameters"].pop("max_connections"),
        ),
        (
            "host",
            "a pod on the host's network",
            lambda o: _find(o, "Deployment", "shipping")["spec"]["template"]["spec"].update(hostNetwork=True),
        ),
        (
            "namespace",
            "a namespace without Pod Security",
            lambda o: next(x for x in o if x["kind"] == "Namespace")["metadata"]["labels"].pop(
                "pod-security.kubernetes.io/enforce"
            ),
        ),
        (
            "autoscaling",
            "no disruption budget for identity",
            lambda o: o.remove(_find(o, "PodDisruptionBudget", "identity")),
        ),
        ("config", "the bus left embedded", lambda o: _configmap(o)["data"].update(FLOTILLA_BUS__BACKEND="embedded")),
        (
            "config",
            "notifications with no relay outside dev",
            lambda o: _configmap(o)["data"].pop("FLOTILLA_SERVICES__NOTIFICATIONS__SMTP__HOST"),
        ),
        (
            "secrets",
            "a whole Secret as variables",
            lambda o: _container(o, "Deployment", "shipping")["envFrom"].append({"secretRef": {"name": "everything"}}),
        ),
        (
            "secrets",
            "the admin's password as a literal",
            lambda o: (
                _container(o, "Deployment", "identity")["env"][0].update(value="a literal", valueFrom=None)
                or _container(o, "Deployment", "identity")["env"][0].pop("valueFrom")
            ),
        ),
        ("ingress", "https without TLS", lambda o: next(x for x in o if x["kind"] == "Ingress")["spec"].pop("tls")),
        (
            "nats",
            "NATS' default fsync interval",
            lambda o: next(x for x in o if name_of(x).startswith("nats-config"))["data"].update(
                {
                    "nats.conf": next(x for x in o if name_of(x).startswith("nats-config"))["data"][
                        "nats.conf"
                    ].replace("sync_interval: always", "")
                }
            ),
        ),
        ("nats", "two NATS servers", lambda o: _find(o, "StatefulSet", "nats")["spec"].update(replicas=2)),
        ("nats", "streams on one server", lambda o: _configmap(o)["data"].update(FLOTILLA_BUS__NATS__REPLICAS="1")),
    ]


def self_test(renders: dict[str, list[dict[str, Any]]]) -> list[str]:
    failures = []
    for env, objects in renders.items():
        for v in check(env, objects):
            failures.append(f"self-test: the unbroken {env} render is refused: {v}")
    if "staging" not in renders:
        return failures + ["self-test: needs the staging render to break"]
    for rule, what, breaks in _breaks():
        objects = copy.deepcopy(renders["staging"])
        try:
            breaks(objects)
        except (LookupError, KeyError, IndexError, StopIteration) as e:
            failures.append(f"self-test: could not break the render ({what}): {e!r}")
            continue
        found = check("staging", objects)
        if not any(v.rule == rule for v in found):
            failures.append(
                f"self-test: {what}: rule {rule} did not refuse it (found: {[str(v) for v in found] or 'nothing'})"
            )
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("renders", nargs="+", metavar="ENV=FILE")
    args = parser.parse_args()
    renders = {}
    for item in args.renders:
        env, _, path = item.partition("=")
        if env not in ENVIRONMENTS or not path:
            parser.error(f"{item}: expected ENV=FILE with ENV one of {', '.join(ENVIRONMENTS)}")
        renders[env] = load(Path(path))
    if args.self_test:
        failures = self_test(renders)
        for failure in failures:
            print(failure, file=sys.stderr)
        print(f"policy self-test: {len(_breaks())} broken renders, {len(failures)} failures")
        return 1 if failures else 0
    failed = False
    for env, objects in renders.items():
        violations = check(env, objects)
        for v in violations:
            print(f"{env}: {v}", file=sys.stderr)
        failed |= bool(violations)
        print(f"policy {env}: {len(objects)} objects, {len(violations)} violations")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
