"""`sam build` turns the repository into deployable artifacts: three functions, the layer and the nested extractor.

Runs the real SAM CLI once per session into a temporary --build-dir. pip inside it downloads the
layer's pinned arm64 wheels from PyPI (the one registry these tests reach); deselect with -m "not sam".
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from samtranslator.yaml_helper import yaml_parse
from template_tools import REPO_ROOT, python313_runs, sam_executable

pytestmark = pytest.mark.sam

FUNCTIONS = {"SubmitFunction": "submit", "CallbackFunction": "callback", "PollerFunction": "poller"}
PIP_CACHE = REPO_ROOT / ".aws-sam" / "cache" / "ocr-worker-pip"



@pytest.fixture(scope="session")
def sam_build(tmp_path_factory) -> Path:
    sam = sam_executable()
    if sam is None:
        pytest.skip("the `sam` CLI is not installed (pip install -r requirements-dev.txt provides it)")
    if not python313_runs():
        pytest.skip("`sam build` needs python3.13 on PATH for BuildMethod python3.13 (see docs/deploy.md)")
    # sam build follows the nested application (Provider=builtin) into its template, whatever the mode.
    if not (REPO_ROOT / "serverless_extractor" / "template.yaml").is_file():
        pytest.skip("the nested extractor's serverless_extractor/template.yaml is not on this branch")
    work = tmp_path_factory.mktemp("sam")
    build_dir = work / "build"
    # The nested extractor's wheels (the OCR worker's ~200 MB among them) are downloaded once into the
    # git-ignored build folder and read from there on later runs (test_ocr_worker_package.py shares it).
    PIP_CACHE.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "SAM_CLI_DISABLE_UPDATE_CHECK": "1", "PIP_CACHE_DIR": str(PIP_CACHE)}
    completed = subprocess.run(
        [sam, "build", "--template-file", str(REPO_ROOT / "template.yaml"), "--build-dir", str(build_dir),
         "--no-cached", "--cache-dir", str(work / "cache")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    assert completed.returncode == 0, f"sam build failed:\n{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
    return build_dir


def _built_template(build_dir: Path) -> dict:
    return yaml_parse((build_dir / "template.yaml").read_text(encoding="utf-8"))


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("function", "folder"), sorted(FUNCTIONS.items()))
def test_function_is_built_with_its_handler_and_without_the_layer_dependencies(sam_build, function, folder):
    properties = _built_template(sam_build)["Resources"][function]["Properties"]
    artifact = sam_build / properties["CodeUri"]
    assert artifact.is_dir()
    assert (artifact / "app.py").is_file()
    assert (artifact / "app.py").read_bytes() == (REPO_ROOT / "functions" / folder / "app.py").read_bytes()
    # Thin handlers: the shared code and its dependencies live in the layer only.
    assert not (artifact / "pydantic").exists()
    assert not (artifact / "ktp_pipeline").exists()


@pytest.mark.timeout(900)
def test_layer_contains_the_package_and_every_pinned_dependency_for_arm64(sam_build):
    properties = _built_template(sam_build)["Resources"]["PipelineLayer"]["Properties"]
    python_dir = sam_build / properties["ContentUri"] / "python"
    assert (python_dir / "ktp_pipeline" / "__init__.py").is_file()

    installed = {}
    for dist_info in python_dir.glob("*.dist-info"):
        name, version = dist_info.name[: -len(".dist-info")].rsplit("-", 1)
        installed[canonicalize_name(name)] = version
    requirements = (REPO_ROOT / "layers" / "pipeline" / "requirements.txt").read_text(encoding="utf-8")
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (pin,) = requirement.specifier
        assert installed.get(canonicalize_name(requirement.name)) == pin.version, requirement.name

    # Compiled wheels were fetched for Lambda's arm64, not for the machine that ran the build.
    extensions = [p.name for p in python_dir.rglob("*.so")]
    assert extensions, "expected compiled extensions (pydantic-core)"
    assert all("aarch64" in name for name in extensions if "cpython" in name), extensions


@pytest.mark.timeout(900)
def test_the_nested_extractor_is_built_with_its_layer_holding_only_the_extractor_package(sam_build):
    nested = _built_template(sam_build / "Extractor")["Resources"]
    layer = sam_build / "Extractor" / nested["ExtractorCodeLayer"]["Properties"]["ContentUri"]
    python_dir = layer / "python"
    assert (python_dir / "extractor" / "serverless" / "api.py").is_file()
    assert (python_dir / "extractor" / "service" / "submission.py").is_file()
    # Only extractor/ (no synthetic-card generator) and the pins of its requirements.txt: not the repository.
    assert not (python_dir / "extractor" / "synth").exists()
    assert {p.name for p in layer.iterdir()} == {"python"}
    top = {p.name for p in python_dir.iterdir() if not p.name.endswith((".dist-info", ".libs"))}
    assert not top & {".venv", ".git", "tests", "functions", "layers", "template.yaml"}, top
    assert any(p.name.startswith("pillow-13.") for p in python_dir.glob("*.dist-info"))
    assert all("aarch64" in p.name for p in python_dir.rglob("*.so") if "cpython" in p.name)
    worker = sam_build / "Extractor" / nested["OcrWorkerFunction"]["Properties"]["CodeUri"]
    assert (worker / "app.py").is_file() and (worker / "extractor" / "serverless" / "worker.py").is_file()
    assert not nested["OcrWorkerFunction"]["Properties"].get("Layers")
