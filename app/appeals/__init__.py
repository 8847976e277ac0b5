"""Appeals (申诉): a household says a grade was wrong; an admin upholds or overturns it."""
