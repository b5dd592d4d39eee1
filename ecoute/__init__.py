"""Generated protobuf contracts (from proto/); regenerate with `make proto`, never edit."""
