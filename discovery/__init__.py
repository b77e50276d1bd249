"""ivrkit.discovery: speech recognition, prompt parsing, one call -> timeline, and the CLI."""
