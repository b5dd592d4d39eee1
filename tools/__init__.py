"""Developer tools: embedded Postgres, the `make run` launcher, code generation, demo feed."""
