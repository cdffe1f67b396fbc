"""xyd federation: the wire (protobufs, mTLS/PKI, channels, chunked streams, PSI, Flower apps)."""
