"""What the user writes down: the contract (``obs.yaml``), the team's policy, and the JSON Schema
validation that turns a bad file into "file, line, field, how to fix"."""
