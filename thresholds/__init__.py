"""Per-service suppression thresholds: optimisation under the FNR budget, trends, overrides."""
