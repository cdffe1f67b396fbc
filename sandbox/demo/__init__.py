"""`xyd demo`: the end-to-end federation on loopback, one module per step."""
