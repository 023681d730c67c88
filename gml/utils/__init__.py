"""Small helpers shared by the tools: config loading, CLI error handling."""
