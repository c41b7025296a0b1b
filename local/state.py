"""Where a running stack can be reached: written by ``ktp up`` to ``<data-dir>/stack.json``, read
by the other commands; the same shape describes a deployed stack (``--stack NAME``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

STATE_FILE = "stack.json"
DEFAULT_DATA_DIR = Path(".ktp")


class StackInfo(BaseModel):
    kind: Literal["local", "cloudformation"] = "local"
    stack_name: str
    region: str
    endpoint_url: str | None = None  # None: real AWS with the caller's credentials
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    bucket: str
    upload_prefix: str = ""
    upload_suffix: str = ""
    table: str
    pending_index: str | None = None
    callback_url: str | None = None
    completion_event_bus: str | None = None  # name of the bus with the completion events
    extractor_url: str | None = None
    pid: int | None = None
    started_at: str | None = None
    data_dir: str | None = None

    def aws_cli_hint(self) -> str:
        endpoint = f" --endpoint-url {self.endpoint_url}" if self.endpoint_url else ""
        return f"aws{endpoint} --region {self.region} s3 cp card.jpg s3://{self.bucket}/{self.upload_prefix}card.jpg"


class NoRunningStack(RuntimeError):
    pass


def write_state(data_dir: Path, info: StackInfo) -> Path:
    path = data_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(info.model_dump_json(indent=2))
    temporary.replace(path)
    return path


def read_state(data_dir: Path) -> StackInfo:
    path = data_dir / STATE_FILE
    if not path.exists():
        raise NoRunningStack(f"no running local stack found ({path} missing); start one with `ktp up`")
    info = StackInfo.model_validate_json(path.read_text(encoding="utf-8"))
    if info.pid is not None and not _alive(info.pid):
        raise NoRunningStack(f"the stack in {data_dir} is not running (pid {info.pid} is gone); start it with `ktp up`")
    return info


def remove_state(data_dir: Path) -> None:
    (data_dir / STATE_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
