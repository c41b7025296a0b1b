"""The `ktp` command line: extractor, synthetic cards, service and the local stack."""
