"""xyd consent: authorisation artefacts, lifecycle, enforcement, Merkle audit log. No gRPC, no HTTP."""
