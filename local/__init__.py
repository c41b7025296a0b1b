"""The local stack: the real pipeline handlers, wired from ``template.yaml`` to a moto server and
the built-in extractor, all on 127.0.0.1 — plus the ``ktp`` commands that drive it (or a deployed
stack).
"""
