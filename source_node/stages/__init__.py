"""The stage handlers of a source node (a passive party): PSI, SecureBoost, vertical LR and scorecards."""
