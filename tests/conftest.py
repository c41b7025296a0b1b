"""Shared test settings. Each area keeps its fixtures in its own folder's conftest.py."""

import os

import pytest

# Never let a test reach a real AWS account, whatever the developer's shell has configured.
os.environ.setdefault("AWS_DEFAULT_REGION", "ap-southeast-3")
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
# One ONNX Runtime thread per OCR call: `make test` runs 3 workers on 2 cores, and an engine that
# starts a thread per core in each of them spins on cores the others need (measured: 369 -> 319
# CPU-s for the suite, 204 -> 176 s). A test that is about the thread budget sets its own.
os.environ.setdefault("KTP_OCR_THREADS", "1")

# `make test` hands whole files to the xdist workers in collection order (--dist loadfile with
# --no-loadscope-reorder; xdist otherwise sorts files by their number of tests), so a long file
# collected last keeps one worker busy after the rest are done. These files took longest (wall, set-up
# included) in `make test` (2026-12-02, 4 workers on 2 cores); they start first, the rest keep their order.
LONGEST_FIRST = (
    "integration/test_job_lifecycle_on_stack.py",
    "extractor/test_engine_end_to_end.py",
    "integration/test_stack_processes.py",
    "template/test_sam_build.py",
    "integration/test_pipeline_serverless_extractor.py",
    "service/test_service_contract.py",
    "extractor/test_synth.py",
    "integration/on_one_stack/test_pipeline_end_to_end.py",
    "integration/test_completion_events_restart.py",
    "integration/on_one_stack/test_completion_events.py",
    "service/test_service_durability.py",
    "integration/test_sam_local.py",
    "extractor/test_engine_not_a_ktp.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.path.as_posix()
        return next((n for n, name in enumerate(LONGEST_FIRST) if path.endswith(name)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: within a file, and among the other files, the order is unchanged


# Folders whose files share one local stack (a package-scoped fixture in the folder's conftest.py):
# under `--dist loadfile` the whole folder is one unit of work, so its files run on one worker, one
# after another, on one stack (a stack start costs ~5 s of CPU, and an idle one keeps using a little).
ONE_UNIT_FOLDERS = ("tests/integration/on_one_stack/",)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FolderOrFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return next((folder for folder in ONE_UNIT_FOLDERS if path.startswith(folder)), path)

    return FolderOrFileScheduling(config, log)
