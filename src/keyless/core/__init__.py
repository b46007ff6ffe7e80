"""The core the login side shares: plain types, the ports' protocols, AWS's fixed rules.

Standard library only (and :mod:`keyless.errors`): services and adapters both
import it, it imports neither (checked by the import-layer contract in
``pyproject.toml``). ``keyless credential-process`` reads its cache through
:mod:`keyless.core.paths` before anything heavier is imported.
"""
