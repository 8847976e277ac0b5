"""The points shop's catalogue: goods, prices in points, and stock movements."""
