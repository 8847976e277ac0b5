"""Villages, their grids and their time zones."""
