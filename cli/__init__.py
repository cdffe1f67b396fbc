"""The `xyd` command line and the people's tools: the operator's client and commands, the PKI commands, a bank's
verification client, the consent registry's admin client and the compliance officer's checks."""
