"""One module per group of CLI subcommands."""
