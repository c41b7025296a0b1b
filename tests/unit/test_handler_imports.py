"""A handler's init imports no AWS SDK: boto3 and botocore's clients (≈ 0.3 s of every cold start)
load with the first call's clients, as bench/cold_imports.py measures. (Powertools reads the bare
`botocore` package for its version: that is one small module, not the SDK.) A fresh interpreter
per handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HANDLERS = sorted(path.parent.name for path in (REPO / "functions").glob("*/app.py"))
CHILD = """
import json, sys
import app
print(json.dumps(sorted(name for name in ("boto3", "botocore.session", "botocore.client", "aws_xray_sdk") if name in sys.modules)))
"""


def test_every_function_is_checked():
    assert {"submit", "callback", "poller", "erase"} <= set(HANDLERS)


@pytest.mark.parametrize("handler", HANDLERS)
def test_importing_the_handler_loads_no_aws_sdk(handler):
    path = os.pathsep.join([str(REPO / "functions" / handler), str(REPO / "layers" / "pipeline")])
    env = {**os.environ, "PYTHONPATH": path, "POWERTOOLS_TRACE_DISABLED": "true"}
    completed = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO / "functions" / handler, env=env,
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []
