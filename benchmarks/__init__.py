"""xyd benchmarks: `python -m benchmarks NAME [options]`, one JSON object as the last line of stdout."""
