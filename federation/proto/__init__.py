"""Protobuf definitions and their generated code (regenerate with `make protos`)."""
