"""Inspections: grading a household's sorting at the bins, credited by the rules."""
