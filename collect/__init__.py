"""DynVFI collect: triplets from Vimeo90K, Adobe240 and local/web clips (``dynvfi collect``).

Python API: ``collect.pipeline.collect(config, ...) -> CollectReport`` with a config from
``collect.config.load_config(yaml_path)`` or ``demo_config()``; see collect/README.md.
Kept import-free so that building the ``dynvfi`` command line stays fast.
"""
