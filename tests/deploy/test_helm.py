"""The Helm chart renders with the real Helm, validates like the kustomize build and, for
equal settings, produces the same objects as the kustomize overlays."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.test_manifests import CRDS, KUBERNETES_VERSION, build
from tools import gen_rules
from tools.embedded_pg import ROOT

CHART = ROOT / "deploy" / "helm" / "ecoute"
HELM_VERSION = "v4.3.1"  # tools/system-deps.sh installs it, pinned by SHA-256
NAMESPACES = {"dev": "ecoute-dev", "prod": "ecoute"}
HOOK_ANNOTATIONS = {"helm.sh/hook", "helm.sh/hook-delete-policy"}


def helm(*args: str) -> str:
    assert shutil.which("helm"), "helm (tools/system-deps.sh installs it)"
    done = subprocess.run(["helm", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def render(namespace: str = "ecoute", *options: str) -> list[dict[str, Any]]:
    out = helm("template", "ecoute", str(CHART), "--namespace", namespace, *options)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_name(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def without_tool_marks(value: Any) -> Any:
    """The object without what only says which tool made it: the managed-by label and
    Helm's hook annotations (the migration Job runs before each install and upgrade)."""
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if key == "labels":
                item = {k: v for k, v in item.items() if k != "app.kubernetes.io/managed-by"}
            if key == "annotations":
                item = {k: v for k, v in item.items() if k not in HOOK_ANNOTATIONS}
                if not item:
                    continue
            kept[key] = without_tool_marks(item)
        return kept
    if isinstance(value, list):
        return [without_tool_marks(v) for v in value]
    return value


def test_the_helm_on_this_machine_is_the_pinned_release() -> None:
    assert helm("version", "--template", "{{.Version}}").strip() == HELM_VERSION


def test_the_chart_passes_helm_lint_strict() -> None:
    helm("lint", "--strict", str(CHART))
    for values in sorted((CHART / "ci").glob("*-values.yaml")):
        helm("lint", "--strict", str(CHART), "-f", str(values))


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_the_chart_and_the_overlay_make_the_same_objects(overlay: str) -> None:
    values = CHART / "ci" / f"{overlay}-values.yaml"
    chart = by_name(render(NAMESPACES[overlay], "-f", str(values)))
    kustomized = by_name(build(overlay))
    assert set(chart) == set(kustomized)
    for key, made in chart.items():
        assert without_tool_marks(made) == without_tool_marks(kustomized[key]), key


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_every_rendered_object_is_valid_for_the_target_kubernetes(overlay: str) -> None:
    values = CHART / "ci" / f"{overlay}-values.yaml"
    for obj in render(NAMESPACES[overlay], "-f", str(values)):
        if obj["kind"] not in CRDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_values_choose_image_replicas_secrets_ingress_resources_and_extras() -> None:
    objects = by_name(
        render(
            "care",
            "--set",
            "image.repository=registry.example/ecoute,image.tag=1.2.3",
            "--set",
            "components.triageWorker.replicas=7,secrets.database=pg-url",
            "--set",
            "ingress.host=care.example.org,ingress.className=traefik",
            "--set",
            "resources.service.limits.memory=1Gi",
            "--set",
            "prometheusOperator.enabled=false,dashboards.enabled=false",
        )
    )
    worker = objects[("Deployment", "triage-worker")]["spec"]
    assert worker["replicas"] == 7
    (container,) = worker["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/ecoute:1.2.3"
    assert container["resources"]["limits"]["memory"] == "1Gi"
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "pg-url"
    ingress = objects[("Ingress", "ecoute")]["spec"]
    assert ingress["ingressClassName"] == "traefik"
    assert ingress["rules"][0]["host"] == "care.example.org"
    kinds = {kind for kind, _ in objects}
    assert not kinds & CRDS
    assert ("ConfigMap", "ecoute-grafana-dashboards") not in objects
    assert {o["metadata"]["namespace"] for o in objects.values()} == {"care"}


def test_the_charts_rules_and_dashboards_are_the_bases() -> None:
    in_chart = {p: t for p, t in gen_rules.copies().items() if p.is_relative_to(CHART)}
    assert {p.name for p in in_chart} == {"rules.yaml", "care.json", "operations.json"}
    for path, text in in_chart.items():
        assert path.read_text() == text, f"{path} is stale: run `python -m tools.gen_rules`"


def test_the_chart_documents_where_its_helm_comes_from() -> None:
    readme = (CHART / "README.md").read_text()
    script = (ROOT / "tools" / "system-deps.sh").read_text()
    assert HELM_VERSION in readme and f"HELM_VERSION={HELM_VERSION}" in script
