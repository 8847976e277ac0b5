"""The demo village: plausible data to try Green Points with."""
