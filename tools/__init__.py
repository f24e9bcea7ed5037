"""Generators run from a checkout (not installed with the package): they write files the
repository commits, and a test keeps each file equal to what its generator prints."""
