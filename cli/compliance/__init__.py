"""The compliance officer's tools: checks and listings over the registry's database, and `xyd audit`."""
