"""The vocabulary every layer speaks: durations, located YAML, findings, waiting on a condition with a
deadline, progress lines, and interrupt handling. Imports nothing of obs-tests but :mod:`obs_tests.errors`."""
