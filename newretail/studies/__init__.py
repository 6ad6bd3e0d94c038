"""Studies of the toolkit's own methods over many generated days (the coverage of the claims' intervals)."""
