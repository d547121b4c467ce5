"""Load that obs-tests drives against a stack: Locust runs in child processes, read back exactly."""
