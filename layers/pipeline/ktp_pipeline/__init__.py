"""Shared code of the KTP async pipeline (deployed as a Lambda layer, imported as ``ktp_pipeline``).
Clients and services are built lazily by ``wiring``, so importing a module stays cheap."""
