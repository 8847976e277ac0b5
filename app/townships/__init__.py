"""Townships (乡镇/街道): the tier above the village, which reads and never writes."""
