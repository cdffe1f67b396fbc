"""The stage handlers of the platform node (the active party): PSI, SecureBoost, vertical LR and scorecards."""
