"""The merchant console's framework: browser sessions and CSRF, security headers, the shared
layout and templates, gettext catalogs, forms over msgspec Structs and the navigation hook.

Pages themselves live beside the code they show (``core/<domain>/console.py`` with
``templates/``, ``tenants/console.py``, ``plugins/<name>/console.py``); see docs/console.md.
"""
