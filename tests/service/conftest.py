"""Fixtures for the extractor-service tests: real service processes on 127.0.0.1."""

from __future__ import annotations

import pytest
from service_harness import Listener, Service


@pytest.fixture(scope="module")
def listener():
    server = Listener().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    """A file the fake engine waits on while it exists (FAKE_ENGINE_GATE): holds a job in processing."""
    return tmp_path_factory.mktemp("gate") / "hold"


@pytest.fixture
def make_service(tmp_path):
    """Start services with custom options; every one is stopped at the end of the test."""
    started: list[Service] = []

    def _make(*extra_args: str, data_dir=None, **kwargs) -> Service:
        service = Service(data_dir=data_dir or tmp_path / f"data{len(started)}", extra_args=list(extra_args), **kwargs)
        started.append(service)
        return service.start()

    yield _make
    for service in started:
        service.kill()
