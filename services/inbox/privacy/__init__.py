"""The inbox's side of data protection: erasure requests and retention purges from triage."""
