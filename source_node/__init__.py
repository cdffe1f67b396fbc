"""xyd source node: data intake and governance, passive-party servicers, verification gate."""
