"""Fairness: spot checks (复核) of a random sample of grades, inspectors' figures, anomaly flags."""
