"""``storeplug plugins new NAME``: write a new plugin package that installs by entry point
and passes its own tests straight away. The files are the templates in ``plugin_template/``
(``string.Template`` placeholders; a ``PACKAGE`` folder and ``NAME`` in a file name are
replaced too)."""

from __future__ import annotations

import keyword
import re
import string
from datetime import date
from importlib.metadata import version
from pathlib import Path

from storeplug.runtime import BUILTIN_PLUGINS

TEMPLATE_DIR = Path(__file__).resolve().parent / "plugin_template"
# A plugin name is its id everywhere: the merchant API's path, the entry point, the table
# prefix and the alembic branch. Short enough that every generated name fits PostgreSQL's 63
# characters and every generated line fits 100.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MAX_NAME_LENGTH = 24


class ScaffoldError(Exception):
    """The name or the target folder is not usable; the message says why."""


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name) or len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(
            f"plugin name {name!r}: use lowercase letters, digits and single underscores, "
            f"starting with a letter, at most {MAX_NAME_LENGTH} characters (e.g. stamp_card)"
        )
    if keyword.iskeyword(name):
        raise ScaffoldError(f"plugin name {name!r} is a Python keyword")
    builtin = {module.split(".")[1] for module in BUILTIN_PLUGINS}
    if name in builtin:
        raise ScaffoldError(f"plugin name {name!r} is taken by a built-in plugin")


def storeplug_requirements() -> tuple[str, str]:
    """The plugin's requirement on storeplug: this version up to the next one that may break
    hooks (docs/hooks.md, "Stability"): the next minor before 1.0, the next major after."""
    current = version("storeplug")
    major, minor = (int(part) for part in current.split(".")[:2])
    ceiling = f"0.{minor + 1}" if major == 0 else f"{major + 1}"
    bounds = f">={current},<{ceiling}"
    return f"storeplug{bounds}", f"storeplug[testing]{bounds}"


def template_values(name: str) -> dict[str, str]:
    requirement, testing_requirement = storeplug_requirements()
    return {
        "name": name,
        "title": " ".join(part.capitalize() for part in name.split("_")),
        "package": f"storeplug_{name}",
        "dist": "storeplug-" + name.replace("_", "-"),
        "table": f"{name}_notices",
        "date": date.today().isoformat(),
        "storeplug_requirement": requirement,
        "storeplug_testing_requirement": testing_requirement,
    }


def new_plugin(name: str, into: Path) -> Path:
    """Write the package ``storeplug-<name>`` under ``into``; its folder."""
    check_name(name)
    values = template_values(name)
    target = into / values["dist"]
    if target.exists():
        raise ScaffoldError(f"{target} exists already")
    for source in sorted(TEMPLATE_DIR.rglob("*.tmpl")):
        relative = source.relative_to(TEMPLATE_DIR).with_suffix("")
        parts = [
            values["package"] if part == "PACKAGE" else part.replace("NAME", name)
            for part in relative.parts
        ]
        out = target.joinpath(*parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(string.Template(source.read_text()).substitute(values))
    return target
