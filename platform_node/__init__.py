"""xyd platform node: active party, bank/compliance HTTP API, feedback, monitoring."""
