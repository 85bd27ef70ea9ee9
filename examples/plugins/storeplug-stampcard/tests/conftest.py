"""The tests run on storeplug.testing: each test that uses the app runs on SQLite and on
PostgreSQL (as a role under row-level security) with Redis. The plugin is found through its
entry point, so install the package first (``pip install -e '.[test]'``)."""

pytest_plugins = ("storeplug.testing",)
