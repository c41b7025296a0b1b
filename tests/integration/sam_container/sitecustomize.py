"""Loaded by the handler process of tests/integration/test_sam_local.py (this directory is on its
PYTHONPATH): what ``sam local invoke --add-host host.docker.internal:127.0.0.1`` gives a container,
so the URLs of the env-vars file are used exactly as written."""

import socket

_ALIAS = "host.docker.internal"
_resolve = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    if host in (_ALIAS, _ALIAS.encode()):
        host = "127.0.0.1"
    return _resolve(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo
