"""The validation suite users run: ``obs-tests check`` or ``pytest --pyargs obs_tests.suite``.

Modules are thin: they fetch from the stack's APIs and hand the data to ``obs_tests.checks``.
"""
