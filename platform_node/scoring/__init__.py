"""Online scoring behind the bank API: the `Scorer` interface, the published-model scorers that fan out to source
nodes, request coalescing, the banks' horizontal models and the local scorecard."""
