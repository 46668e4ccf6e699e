"""Procedure definition files (data only): <id>.v<version>.yaml and versions.lock.json."""
