"""Migration in and out of the resident registry (データ移行): import, export, synthetic files.

- :mod:`.importer`: stream an interchange file into the registry, validated, in resumable batches.
- :mod:`.exporter`: write the registry back in the same format, full or by date range.
- :mod:`.cli`: ``jichitai registry import|export|generate|search`` (``build_cli(get_storage)``).

The file format is documented in ``docs/registry-interchange.md``.
"""
