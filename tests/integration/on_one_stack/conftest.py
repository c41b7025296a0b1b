"""One local stack for every test in this folder (tests/conftest.py keeps the folder on one xdist
worker): the pipeline end to end, its completion events and the CLI on a running stack. Each test
uses its own uploads or records and looks only at those, so they can share the table and queues."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack

from ..conftest import new_stack


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with new_stack(tmp_path_factory.mktemp("local-stack")) as local_stack:
        yield local_stack
