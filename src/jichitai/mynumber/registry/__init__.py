"""Resident registry (住民記録): records, changes, search, certificates and migration."""
