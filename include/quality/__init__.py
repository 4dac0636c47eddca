"""The Great Expectations validation gate over the landed source tables."""
