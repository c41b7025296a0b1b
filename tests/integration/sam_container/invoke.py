"""Run one handler the way SAM's Python runtime container does, outside Docker:

    python invoke.py CODE_DIR LAYER_DIR MODULE.FUNCTION EVENT_FILE RESULT_FILE

``CODE_DIR`` and ``LAYER_DIR`` stand for /var/task and /opt/python; the environment is the
caller's (SAM CLI's own resolution of template.yaml and the env-vars file). The handler's return
value is written to ``RESULT_FILE`` as JSON (stdout carries the handler's logs).
"""

import importlib.util
import json
import os
import sys
import time
import uuid
from pathlib import Path

code_dir, layer_dir, handler, event_file, result_file = sys.argv[1:6]
sys.path[:] = [code_dir, layer_dir, *(p for p in sys.path[1:] if p not in ("", "."))]
module_name, function_name = handler.rsplit(".", 1)
spec = importlib.util.spec_from_file_location(module_name, Path(code_dir) / f"{module_name}.py")
module = importlib.util.module_from_spec(spec)
sys.modules[module_name] = module
spec.loader.exec_module(module)


class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
    invoked_function_arn = f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{function_name}"
    memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    aws_request_id = str(uuid.uuid4())
    log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
    log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    _deadline = time.monotonic() + int(os.environ["AWS_LAMBDA_FUNCTION_TIMEOUT"])

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


event = json.loads(Path(event_file).read_text(encoding="utf-8"))
result = getattr(module, function_name)(event, Context())
Path(result_file).write_text(json.dumps(result, default=str), encoding="utf-8")
