"""Fairness: spot checks (复核) of a random sample of grades, the inspectors' figures, anomaly flags."""
