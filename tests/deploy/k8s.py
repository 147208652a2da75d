"""Reads deploy/k8s the way kustomize would, as far as these manifests need: the resource files a
kustomization lists (a listed directory is another kustomization), and the ConfigMaps and Secrets
its generators make from env files (`behavior: merge` merges into the base's). No name hashes, no
namespace: the tests compare names as written. `kubectl kustomize` is used only where present.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"

Doc = dict[str, Any]


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as kustomize's `envs` reads them (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not KEY=VALUE: {line!r}"
        values[key.strip()] = value
    return values


def kustomization(directory: Path) -> Doc:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def documents(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@dataclass
class Build:
    resources: list[tuple[Path, Doc]] = field(default_factory=list)
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # every file a kustomization names
    images: list[Doc] = field(default_factory=list)

    def generated(self) -> list[Doc]:
        """The generators' ConfigMaps and Secrets as objects (for the schema check)."""
        config_maps = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
                       for name, data in self.config_maps.items()]
        secrets = [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name},
                    "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}
                   for name, data in self.secrets.items()]
        return config_maps + secrets

    def all_documents(self) -> list[Doc]:
        return [doc for _, doc in self.resources] + self.generated()

    def of_kind(self, kind: str) -> list[Doc]:
        return [doc for _, doc in self.resources if doc["kind"] == kind]

    def named(self, kind: str, name: str) -> Doc:
        found = [doc for doc in self.of_kind(kind) if doc["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
        return found[0]


def build(directory: Path, into: Build | None = None) -> Build:
    result = into or Build()
    spec = kustomization(directory)
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            build(path, result)
        else:
            result.files.append(path)
            result.resources.extend((path, doc) for doc in documents(path))
    for kind, target in (("configMapGenerator", result.config_maps), ("secretGenerator", result.secrets)):
        for generator in spec.get(kind, []):
            data: dict[str, str] = {}
            for name in generator.get("envs", []):
                result.files.append(directory / name)
                data.update(env_file(directory / name))
            for literal in generator.get("literals", []):
                key, _, value = literal.partition("=")
                data[key] = value
            behavior = generator.get("behavior", "create")
            if behavior == "merge":
                assert generator["name"] in target, f"{directory}: merges into {generator['name']}, which the base lacks"
                target[generator["name"]] = {**target[generator["name"]], **data}
            else:
                assert generator["name"] not in target, f"{directory}: {generator['name']} generated twice"
                target[generator["name"]] = data
    result.images.extend(spec.get("images", []))
    return result


def pod_template(workload: Doc) -> Doc:
    return workload["spec"]["template"]


def workloads(result: Build) -> Iterator[Doc]:
    """Every object that runs pods of the app: Deployments and Jobs."""
    for _, doc in result.resources:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc


def containers(workload: Doc, *, init: bool = True) -> list[Doc]:
    spec = pod_template(workload)["spec"]
    return [*(spec.get("initContainers", []) if init else []), *spec["containers"]]


def option(command: list[str], *names: str) -> str | None:
    """The value after any of `names` in an argv (`-Q a,b` or `--queues=a,b`), else None."""
    for index, arg in enumerate(command):
        if arg in names:
            return command[index + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels only; these manifests use no expressions) against pod labels."""
    assert set(selector) == {"matchLabels"}, selector
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())
