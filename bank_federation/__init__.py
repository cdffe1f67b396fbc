"""Horizontal learning among banks on Flower (Message API).

Modules: `server_app` (the aggregator's ServerApp) and `aggregator` (its protocol driver), `client_app`
(the banks' ClientApp), `records` (message types and record layouts both sides share), `settings` (run
config), `inprocess` (an in-process Grid for tests and simulations), `deployment` and `tls` (a real
SuperLink + SuperNodes deployment on loopback), `cli` (`xyd federate-banks`). Nothing is imported here, so
`xyd --help` stays fast; import the module you need.
"""

__all__: list[str] = []
