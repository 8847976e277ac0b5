"""Load and scale benchmarks for Green Points (issue 8); `make bench` runs them."""
