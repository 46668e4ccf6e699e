"""Intake of the My Number zone: accepted applications routed to core systems or the generic inbox."""
