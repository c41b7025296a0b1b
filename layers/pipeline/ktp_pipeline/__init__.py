"""Shared code of the KTP async pipeline (deployed as a Lambda layer, imported as ``ktp_pipeline``).

Modules stay cheap to import: boto3 and httpx clients are built lazily by ``wiring`` so a cold
start only pays for what the invoked handler uses.
"""
