"""The shared web base: application factory, templates, stylesheet, staff login and API auth."""
