"""Shared test settings. Each area keeps its fixtures in its own folder's conftest.py."""

import os

# Never let a test reach a real AWS account, whatever the developer's shell has configured.
os.environ.setdefault("AWS_DEFAULT_REGION", "ap-southeast-3")
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
