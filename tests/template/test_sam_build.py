"""`sam build` turns the repository into deployable artifacts: the functions, the layer and the nested
extractor, whose OCR worker is an arm64 zip package within Lambda's limit, built without Docker.

Runs the real SAM CLI once per session into a temporary --build-dir (the nested extractor is built
with it, OcrWorkerFunction by its Makefile, serverless_extractor/functions/ocr_worker/Makefile). pip
inside it downloads the pinned arm64 wheels from PyPI (the one registry these tests reach) into a
wheel cache in the repository's git-ignored build folder, so a second run reads them from disk.
Deselect with -m "not sam".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from samtranslator.yaml_helper import yaml_parse
from template_tools import REPO_ROOT, python313_executable, sam_executable

pytestmark = pytest.mark.sam

FUNCTIONS = {"SubmitFunction": "submit", "CallbackFunction": "callback", "PollerFunction": "poller"}
PIP_CACHE = REPO_ROOT / ".aws-sam" / "cache" / "ocr-worker-pip"
PACKAGE_INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory) -> Path:
    sam = sam_executable()
    if sam is None:
        pytest.skip("the `sam` CLI is not installed (pip install -r requirements-dev.txt provides it)")
    python313 = python313_executable()
    if python313 is None:
        pytest.skip("`sam build` needs python3.13 on PATH: the functions' python3.13 runtime and the layer's Makefile (see docs/deploy.md)")
    # sam build follows the nested application (Provider=builtin) into its template, whatever the mode.
    if not (REPO_ROOT / "serverless_extractor" / "template.yaml").is_file():
        pytest.skip("the nested extractor's serverless_extractor/template.yaml is not on this branch")
    work = tmp_path_factory.mktemp("sam")
    build_dir = work / "build"
    # sam build runs `python3.13` ~50 times (pip for each layer's wheels). Where that name is a shim
    # (pyenv's is a chain of bash scripts, ~0.1 s of CPU a call), a link to the interpreter it resolved
    # to goes first on PATH; only that name, so `python3` in the Makefiles is what it was.
    interpreters = work / "python313"
    interpreters.mkdir()
    (interpreters / "python3.13").symlink_to(python313)
    # The nested extractor's wheels (the OCR worker's ~200 MB among them) are downloaded once into the
    # git-ignored build folder and read from there on later runs.
    PIP_CACHE.mkdir(parents=True, exist_ok=True)
    # The layers' wheels come from the package index alone, as on a user's machine. Where pip's config
    # adds local find-links or file:// indexes (this machine's does), pip reports each wheel found
    # there as "Processing <path>", which aws-lambda-builders takes for a source tree and re-packs with
    # one more `pip wheel` each: ~24 extra pip runs per layer. Only non-empty values override the config.
    no_local_links = work / "no-local-links"
    no_local_links.mkdir()
    env = {**os.environ, "PATH": os.pathsep.join((str(interpreters), os.environ.get("PATH", ""))),
           "SAM_CLI_TELEMETRY": "0", "SAM_CLI_DISABLE_UPDATE_CHECK": "1", "PIP_CACHE_DIR": str(PIP_CACHE),
           "PIP_FIND_LINKS": str(no_local_links), "PIP_EXTRA_INDEX_URL": PACKAGE_INDEX}
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

    installed = _installed(python_dir)
    requirements = (REPO_ROOT / "layers" / "pipeline" / "requirements.txt").read_text(encoding="utf-8")
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (pin,) = requirement.specifier
        assert installed.get(canonicalize_name(requirement.name)) == pin.version, requirement.name

    # Byte-compiled for the runtime (its /opt is read-only), with hash-based .pyc files that do not
    # depend on the source mtimes the zip keeps (flags 0b01: hash-based, source not checked).
    for package in ("ktp_pipeline", "botocore", "pydantic"):
        compiled = python_dir / package / "__pycache__" / "__init__.cpython-313.pyc"
        assert compiled.is_file(), package
        assert int.from_bytes(compiled.read_bytes()[4:8], "little") == 0b01, package

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
    for package in ("extractor", "PIL"):  # byte-compiled for the runtime, as the pipeline layer
        compiled = python_dir / package / "__pycache__" / "__init__.cpython-313.pyc"
        assert compiled.is_file(), package
        assert int.from_bytes(compiled.read_bytes()[4:8], "little") == 0b01, package
    assert all("aarch64" in p.name for p in python_dir.rglob("*.so") if "cpython" in p.name)
    worker = sam_build / "Extractor" / nested["OcrWorkerFunction"]["Properties"]["CodeUri"]
    assert (worker / "app.py").is_file() and (worker / "extractor" / "serverless" / "worker.py").is_file()
    assert not nested["OcrWorkerFunction"]["Properties"].get("Layers")


# --- the nested extractor's OCR worker package ----------------------------------------------------

WORKER_DIR = REPO_ROOT / "serverless_extractor" / "functions" / "ocr_worker"
WORKER_REQUIREMENTS = WORKER_DIR / "requirements.txt"

# Lambda's limit for a function's unzipped deployment package (layers included): 250 MB.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024


@pytest.fixture(scope="session")
def worker_build(sam_build) -> tuple[Path, dict, dict]:
    """The nested extractor's OcrWorkerFunction from the session's one build: its folder, resource, Globals."""
    built = _built_template(sam_build / "Extractor")
    function = built["Resources"]["OcrWorkerFunction"]
    globals_ = (built.get("Globals") or {}).get("Function") or {}
    return sam_build / "Extractor" / function["Properties"]["CodeUri"], function, globals_


def _unzipped_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def _installed(folder: Path) -> dict[str, str]:
    installed = {}
    for dist_info in folder.glob("*.dist-info"):
        name, version = dist_info.name[: -len(".dist-info")].rsplit("-", 1)
        installed[canonicalize_name(name)] = version
    return installed


@pytest.mark.timeout(900)
def test_the_worker_is_an_arm64_zip_package_without_layers(worker_build):
    artifact, function, globals_ = worker_build
    properties = {**globals_, **function["Properties"]}
    assert properties.get("PackageType", "Zip") == "Zip"
    assert properties["Architectures"] == ["arm64"]
    # Layers would count toward the same 250 MB; the worker carries everything itself. (SAM appends
    # a function's Layers to the Globals' ones, so neither may have any.)
    assert not globals_.get("Layers") and not function["Properties"].get("Layers")
    assert artifact.is_dir()


@pytest.mark.timeout(900)
def test_the_built_worker_is_within_lambdas_unzipped_limit(worker_build):
    artifact, _, _ = worker_build
    size = _unzipped_bytes(artifact)
    assert size <= LAMBDA_UNZIPPED_LIMIT_BYTES, f"{size / 1024 / 1024:.1f} MB unzipped > 250 MB"


@pytest.mark.timeout(900)
def test_the_worker_holds_every_pin_at_its_version_for_aarch64(worker_build):
    artifact, _, _ = worker_build
    installed = _installed(artifact)
    for line in WORKER_REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (pin,) = requirement.specifier
            assert installed.get(canonicalize_name(requirement.name)) == pin.version, requirement.name
    extensions = [path.name for path in artifact.rglob("*.so")]
    assert any(name.startswith("faster_paddle") for name in extensions)
    assert all("x86_64" not in name for name in extensions), [n for n in extensions if "x86_64" in n]
    assert all("aarch64" in name for name in extensions if "cpython" in name)


@pytest.mark.timeout(900)
def test_the_worker_carries_its_code_but_not_the_service_or_test_tooling(worker_build):
    artifact, _, _ = worker_build
    assert (artifact / "extractor" / "engine" / "pipeline.py").is_file()
    assert (artifact / "extractor" / "result.py").is_file()
    assert (artifact / "ktp_pipeline" / "contract.py").is_file()
    assert not (artifact / "extractor" / "synth").exists()
    installed = _installed(artifact)
    for heavy in ("fastapi", "uvicorn", "moto", "pillow", "boto3", "botocore", "rapidocr", "onnxruntime"):
        assert heavy not in installed, heavy
    assert not [name for name in installed if name.startswith("fontpkg")]
    # Trimmed: numpy's own test suites.
    assert not list((artifact / "numpy").glob("**/tests"))


@pytest.mark.timeout(900)
def test_the_worker_ships_bytecode_for_the_runtimes_python(worker_build):
    # Lambda's code folder is read-only: without these every cold start compiles numpy and the engine.
    artifact, _, _ = worker_build
    assert (artifact / "extractor" / "engine" / "__pycache__" / "pipeline.cpython-313.pyc").is_file()
    assert list((artifact / "numpy" / "_core" / "__pycache__").glob("*.cpython-313.pyc"))


@pytest.mark.timeout(900)
def test_the_handler_and_the_serverless_code_are_in_the_package(worker_build):
    artifact, function, _ = worker_build
    assert function["Properties"]["Handler"] == "app.lambda_handler"
    assert (artifact / "app.py").read_bytes() == (WORKER_DIR / "app.py").read_bytes()
    assert (artifact / "extractor" / "serverless" / "worker.py").is_file()
    assert (artifact / "extractor" / "service" / "aws_storage.py").is_file()


# The built worker's own code, run on this machine's interpreter: the aarch64 wheels cannot load on
# x86_64, so the pinned dependencies come from the test environment (same pins: test_requirements_agree)
# while every extractor/ktp_pipeline module must come from the package. Dev-only packages are blocked.
WORKER_CHILD = """
import json, os, sys
for name in {blocked!r}:
    sys.modules[name] = None  # `import name` raises ImportError, as in the worker's package
sys.path.insert(0, os.environ["WORKER_CODE"])
import app  # the handler module: init phase (logging, settings, engine import and warm-up)
with open(sys.argv[1], "rb") as handle:
    extraction = app.ENGINE.extract(handle.read())
ours = {{name: getattr(module, "__file__", "") or "" for name, module in sys.modules.items()
        if module is not None and name.split(".")[0] in ("app", "extractor", "ktp_pipeline")}}
print(json.dumps({{"nik": extraction.value("nik"), "detected": extraction.ktp_detected,
                  "outside": sorted(n for n, f in ours.items() if f and not f.startswith(os.environ["WORKER_CODE"]))}}))
"""
NOT_IN_WORKER = ("PIL", "fastapi", "starlette", "uvicorn", "httpx", "httpcore", "moto", "fontpkg",
                 "rapidocr", "onnxruntime", "aws_lambda_powertools", "aws_xray_sdk", "extractor.synth")


@pytest.mark.timeout(900)
def test_the_built_worker_code_imports_and_reads_a_card_without_the_dev_packages(worker_build, tmp_path):
    from extractor.synth.cards import generate_card

    artifact, _, _ = worker_build
    code = tmp_path / "code"
    code.mkdir()
    # The package's own code only: app.py and the top-level packages that are not pip distributions.
    installed_tops = set()
    for record in artifact.glob("*.dist-info/RECORD"):
        installed_tops |= {line.split("/", 1)[0].split(",", 1)[0] for line in record.read_text().splitlines()}
    for entry in artifact.iterdir():
        if entry.name in installed_tops or entry.name.endswith((".dist-info", ".libs")):
            continue
        (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, code / entry.name)
    assert {"app.py", "extractor", "ktp_pipeline"} <= {p.name for p in code.iterdir()}
    jpeg, truth = generate_card(7, "clean")
    card = tmp_path / "card.jpg"
    card.write_bytes(jpeg)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KTP_", "PYTHONPATH"))}
    env.update({
        "WORKER_CODE": str(code), "PYTHONSAFEPATH": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "ap-southeast-3", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        # The template's OcrWorkerFunction environment: no secret ids, one OCR thread.
        "KTP_APPLICATIONS_SECRET_ID": "", "KTP_OCR_THREADS": "1", "KTP_JOBS_TABLE": "jobs",
        "KTP_IMAGE_BUCKET": "images", "KTP_WORK_QUEUE_URL": "https://sqs.invalid/work",
        "KTP_CALLBACK_QUEUE_URL": "https://sqs.invalid/callback",
    })
    completed = subprocess.run(
        [sys.executable, "-c", WORKER_CHILD.format(blocked=NOT_IN_WORKER), str(card)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    assert answer["outside"] == [], "modules the package lacks, loaded from elsewhere"
    assert answer["detected"]
    assert answer["nik"] == truth["fields"]["nik"]
