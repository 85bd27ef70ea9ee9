"""The composition root: the one layer that knows every other.

``core`` is the framework and the commerce domain; ``tenants`` (the vendor side) and
``plugins`` (the features) build on it; this package wires them into a runtime, an app, a CLI
and a demo. Nothing below imports it (``tests/test_layers.py`` checks)."""
