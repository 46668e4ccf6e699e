"""Wire formats that cross a zone boundary, as versioned pydantic models.

Zone packages never import one another; they agree on these models instead.
"""
