"""Write the service's OpenAPI document: ``python -m extractor.service.openapi_doc > docs/openapi.json``.

The committed copy is checked against the served one by the tests, so regenerate it whenever
the API changes.
"""

from __future__ import annotations

import json
import sys

from extractor.service.app import create_app
from extractor.service.settings import ServiceSettings


def openapi_document() -> dict:
    # The document does not depend on configuration; any settings give the same one.
    return create_app(ServiceSettings()).openapi()


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
