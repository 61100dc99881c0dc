"""Metrics: the analyses of aelab-eval (each beside a PCA baseline) and anomaly detection on series."""
