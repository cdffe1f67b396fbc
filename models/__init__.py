"""xyd models: algorithms (HE engine, binning, SecureBoost, hetero LR, scorecard, metrics). No gRPC, no HTTP."""
