"""Kubernetes manifests, alert rules and dashboards, validated offline with the real tools."""

from __future__ import annotations

import json
import re
import subprocess
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from services.inbox.settings import InboxSettings
from services.triage.settings import TriageSettings
from tools import gen_rules
from tools.embedded_pg import ROOT

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"
OVERLAYS = ["dev", "prod"]
CRDS = {"ServiceMonitor", "PrometheusRule"}
SHUTDOWN_SECONDS = 10  # aiohttp's shutdown_timeout in services/infra/serve.py
DASHBOARDS = sorted((K8S / "base" / "dashboards").glob("*.json"))
RULE_TESTS = ROOT / "deploy" / "prometheus" / "rules.test.yaml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
RUNBOOK_PAGE = "https://github.com/ecoute/ecoute/blob/main/docs/runbooks.md"


def build(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return build(request.param)


def test_every_object_is_valid_for_the_target_kubernetes(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] in CRDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def pods(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (o["metadata"]["name"], o["spec"]["template"]["spec"])
        for o in objects
        if o["kind"] in ("Deployment", "Job")
    ]


def test_every_pod_is_hardened_and_bounded(objects: list[dict[str, Any]]) -> None:
    for name, spec in pods(objects):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert context["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert context["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name


def test_services_are_probed_drained_and_given_time_to_stop(objects: list[dict[str, Any]]) -> None:
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {
        "inbox-api",
        "inbox-worker",
        "triage-api",
        "triage-worker",
    }
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        (main,) = spec["containers"]
        assert main["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
        pause = int(main["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert spec["terminationGracePeriodSeconds"] > pause + SHUTDOWN_SECONDS
        waits = [c for c in spec["initContainers"] if c["name"] == "wait-for-migrations"]
        assert waits and "migrate --check" in waits[0]["command"][-1]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "ecoute"
        assert labels["app.kubernetes.io/part-of"] == "ecoute"
        assert "app.kubernetes.io/component" in labels


def test_network_is_denied_by_default_and_secrets_only_referenced(
    objects: list[dict[str, Any]],
) -> None:
    policies = {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert not [o for o in objects if o["kind"] == "Secret"], "no secret values committed"
    kinds = {o["kind"] for o in objects}
    assert {
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "Job",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
        "Service",
    } <= kinds


def test_the_services_read_the_config_map_and_trust_the_ingress(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (config,) = [
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "ecoute-config"
    ]
    for name, value in config["data"].items():
        monkeypatch.setenv(name, value)
    for settings in (InboxSettings(), TriageSettings()):
        # The ingress controller's pods reach the APIs from the pod network: their
        # X-Forwarded-For names the client, so one abuser does not speak for everyone.
        assert settings.proxies().trusts(ip_address("10.42.0.17")), settings


def rule_groups() -> list[dict[str, Any]]:
    (rule,) = [o for o in build("prod") if o["kind"] == "PrometheusRule"]
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def test_the_committed_rule_file_is_what_generation_gives() -> None:
    """deploy/prometheus/rules.yaml is generated from the PrometheusRule (its one source) and
    committed; the rendered manifests carry the same groups."""
    assert gen_rules.TARGET.read_text() == gen_rules.render(), (
        "deploy/prometheus/rules.yaml is stale: run `python -m tools.gen_rules`"
    )
    assert yaml.safe_load(gen_rules.TARGET.read_text())["groups"] == rule_groups()


def test_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    checked = subprocess.run(
        ["promtool", "check", "rules", str(gen_rules.TARGET)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        ["promtool", "test", "rules", str(RULE_TESTS)], capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_says_how_bad_and_what_to_do() -> None:
    alerts = [r for g in rule_groups() for r in g["rules"] if "alert" in r]
    assert {a["alert"] for a in alerts} >= {
        "FirstResponseBudgetBurnFast",
        "FirstResponseBudgetBurnSlow",
        "IngestStalled",
        "ChannelNeedsReauthorisation",
        "EventBacklogGrowing",
        "HttpErrorRatioHigh",
        "CustomerIncidentOpened",
        "ModerationIncidentOpened",
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in ("page", "ticket")
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]


def runbook_sections() -> dict[str, str]:
    """GitHub's anchor of each ``##`` section of docs/runbooks.md -> the section's text."""
    text = RUNBOOKS.read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    return {
        re.sub(r"[^a-z0-9 -]", "", s.split("\n", 1)[0].strip().lower()).replace(" ", "-"): s
        for s in sections
    }


def test_every_alert_links_a_runbook_that_says_what_it_means_and_how_to_fix() -> None:
    sections = runbook_sections()
    alerts = [r for g in rule_groups() for r in g["rules"] if "alert" in r]
    for alert in alerts:
        url = alert["annotations"].get("runbook_url", "")
        page, _, anchor = url.partition("#")
        assert page == RUNBOOK_PAGE, (alert["alert"], url)
        assert anchor in sections, f"{alert['alert']}: no section #{anchor} in docs/runbooks.md"
        section = sections[anchor]
        for part in ("### What it means", "### First checks", "### How to fix"):
            assert part in section, (alert["alert"], part)
    assert set(sections) == {a["alert"].lower() for a in alerts}, "a runbook without its alert"
    for link in re.findall(r"\]\(#([a-z0-9-]+)\)", RUNBOOKS.read_text()):
        assert link in sections, f"docs/runbooks.md links #{link}, which is no section"


def catalog() -> set[str]:
    """Metric names listed in the README's metrics table."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(ecoute_[a-z0-9_]+)`", section, flags=re.M))


def prometheus_targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels' PromQL targets (the per-agent table reads the triage API instead)."""
    return [
        t
        for p in dashboard["panels"]
        for t in p.get("targets", [])
        if t["datasource"]["type"] == "prometheus"
    ]


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for t in prometheus_targets(dashboard)]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_follows_grafanas_schema(path: Path) -> None:
    document = json.loads(path.read_text())
    model = Dashboard.from_json(document)
    again = json.loads(json.dumps(model, cls=JSONEncoder))
    for key in document:
        assert key in again, f"{key} is not part of Grafana's dashboard schema"
    for original, kept in zip(document["panels"], again["panels"], strict=True):
        assert set(original) <= set(kept), set(original) - set(kept)
        assert original["targets"] == kept["targets"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_query_reads_one_namespace(path: Path) -> None:
    """Dev and prod in one Prometheus are never added up: every selector names the
    dashboard's namespace variable, which lists the namespaces that export build info."""
    dashboard = json.loads(path.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["namespace"]["query"]["query"] == "label_values(ecoute_build_info, namespace)"
    assert variables["namespace"]["datasource"]["uid"] == "${datasource}"
    for expr in expressions(dashboard):
        selectors = re.findall(r"\b(ecoute_[a-z0-9_]+)(\{[^}]*\})?", expr)
        assert selectors, expr
        for name, matchers in selectors:
            assert 'namespace="$namespace"' in matchers, f"{name} in {expr!r}"
            if "job" in variables:
                assert 'job=~"$job"' in matchers, f"{name} in {expr!r}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_a_rate_of_requests_alone_says_requests_per_second(path: Path) -> None:
    """``reqps`` is for HTTP requests (route durations, webhooks); messages, polls and
    replies per second say what they count."""
    for panel in json.loads(path.read_text())["panels"]:
        unit = panel["fieldConfig"]["defaults"].get("unit")
        if unit != "reqps":
            continue
        for expr in (t["expr"] for t in panel["targets"]):
            assert re.search(r"ecoute_(http_request_duration_seconds|webhook_requests)", expr), (
                panel["title"],
                expr,
            )


def test_the_care_dashboard_splits_first_response_and_breaches_by_brand() -> None:
    care = json.loads((K8S / "base" / "dashboards" / "care.json").read_text())
    variables = {v["name"]: v for v in care["templating"]["list"]}
    assert variables["brand"]["multi"] and variables["brand"]["allValue"] == ".*"
    by_brand = [e for e in expressions(care) if "by (le, brand)" in e or "by (brand)" in e]
    assert any("ecoute_first_response_seconds_bucket" in e for e in by_brand), by_brand
    assert any("ecoute_sla_breaches_total" in e for e in by_brand), by_brand
    titles = {p["title"] for p in care["panels"]}
    assert {"Open incidents", "Incidents opened (per hour)"} <= titles


def test_the_care_dashboard_lists_answers_per_agent_from_the_api_not_from_labels() -> None:
    """Agents are a table read from GET /v1/stats through a JSON (Infinity) datasource chosen
    by a variable, as are the open incidents (GET /v1/incidents); no Prometheus query of any
    dashboard splits by an agent or a user."""
    care = json.loads((K8S / "base" / "dashboards" / "care.json").read_text())
    (table,) = [p for p in care["panels"] if p["title"] == "Answers per agent"]
    (target,) = table["targets"]
    variables = {v["name"]: v for v in care["templating"]["list"]}
    assert variables["stats"]["type"] == "datasource"
    assert variables["stats"]["query"] == target["datasource"]["type"]
    assert target["datasource"]["type"] == "yesoreyeram-infinity-datasource"
    assert target["datasource"]["uid"] == "${stats}" and table["type"] == "table"
    assert (target["url"], target["root_selector"]) == ("/v1/stats", "answers_per_agent")
    assert [c["selector"] for c in target["columns"]] == ["name", "answers"]
    (incidents,) = [p for p in care["panels"] if p["title"] == "Incidents open now"]
    (listed,) = incidents["targets"]
    assert (listed["url"], listed["root_selector"]) == ("/v1/incidents", "items")
    assert {"key": "status", "value": "open"} in listed["url_options"]["params"]
    api = [t for p in care["panels"] for t in p["targets"] if t not in prometheus_targets(care)]
    assert api == [target, listed]
    assert all(t["datasource"] == target["datasource"] for t in api)
    for path in DASHBOARDS:
        for expr in expressions(json.loads(path.read_text())):
            assert not re.search(r"\b(agent|user)(_id)?\b", expr), expr


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_are_valid_promql_on_catalogued_metrics(
    path: Path, tmp_path: Path
) -> None:
    exprs = expressions(json.loads(path.read_text()))
    assert exprs
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{n}", "expr": e} for n, e in enumerate(exprs)
                ],
            }
        ]
    }
    file = tmp_path / "queries.yaml"
    file.write_text(yaml.safe_dump(rules))
    checked = subprocess.run(
        ["promtool", "check", "rules", str(file)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    known = catalog()
    for expr in exprs:
        for name in re.findall(r"\b(ecoute_[a-z0-9_]+?)(?:_bucket|_count|_sum)?\b", expr):
            assert name in known, f"{name} (in {expr!r}) is not in the README's catalog"
