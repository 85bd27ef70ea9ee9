"""Stampcard: a storeplug feature plugin (its plugin module is ``plugin``)."""
