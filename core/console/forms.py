"""Console forms are msgspec Structs: ``read_form`` turns a posted form into one, with an
error per field (all of them at once, not the first only), and ``form_fields`` describes a
Struct's fields for a generated form (the features page's plugin settings).

Error messages are English msgids (marked with ``N_``) plus their parameters; templates
translate them: ``{{ _(msg, **params) }}``.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import textwrap
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

import msgspec
import msgspec.inspect as mi
from litestar import Request

from core.console.i18n import N_
from core.errors import AppError

T = TypeVar("T", bound=msgspec.Struct)
Message = tuple[str, dict[str, Any]]

REQUIRED = N_("This field is required.")
WHOLE_NUMBER = N_("Enter a whole number.")
NUMBER = N_("Enter a number.")
JSON_VALUE = N_("Enter valid JSON.")
AMOUNT = N_("Enter an amount in yuan, like 12.50.")
DATE = N_("Enter a date, like 2024-06-18.")

# Money in a form: typed in yuan ("12.50"), a whole number of fen in the Struct. Mark an int
# field with ``Annotated[int, msgspec.Meta(ge=..., extra=YUAN)]`` (or use ``Yuan``); its
# bounds are fen, and the errors show them in yuan.
YUAN: dict[str, Any] = {"input": "yuan"}
MAX_YUAN_FEN = 100_000_000  # ¥1,000,000: the catalog's and the coupons' ceiling
Yuan = Annotated[int, msgspec.Meta(ge=0, le=MAX_YUAN_FEN, extra=YUAN)]
PositiveYuan = Annotated[int, msgspec.Meta(ge=1, le=MAX_YUAN_FEN, extra=YUAN)]
_AMOUNT = re.compile(r"^\s*¥?\s*(\d{1,12})(?:\.(\d{1,2}))?\s*$")
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Expected `\w+` >= (?P<n>-?[\d.]+)"), N_("Must be at least %(n)s.")),
    (re.compile(r"Expected `\w+` > (?P<n>-?[\d.]+)"), N_("Must be more than %(n)s.")),
    (re.compile(r"Expected `\w+` <= (?P<n>-?[\d.]+)"), N_("Must be at most %(n)s.")),
    (re.compile(r"Expected `\w+` < (?P<n>-?[\d.]+)"), N_("Must be less than %(n)s.")),
    (re.compile(r"of length >= (?P<n>\d+)"), N_("Enter at least %(n)s characters.")),
    (re.compile(r"of length <= (?P<n>\d+)"), N_("Enter at most %(n)s characters.")),
    (re.compile(r"matching regex"), N_("This value has the wrong format.")),
    (
        re.compile(r"Invalid enum value|Expected `(?:str|int)`, got"),
        N_("Choose one of the options."),
    ),
]


# What a form shows for a service's refusal, by its stable code (else the service's detail).
ERROR_TEXTS: dict[str, str] = {
    "auth.invalid_credentials": N_("Wrong username or password."),
    "auth.too_many_attempts": N_("Too many failed sign-ins. Try again in 15 minutes."),
    "auth.role_required": N_("Your role cannot do this."),
    "plugin.not_in_plan": N_("This feature is not included in the store's plan."),
    "plugin.invalid_settings": N_("Some settings are not valid."),
}


def describe(message: str) -> Message:
    """A msgspec validation message as a translatable one."""
    for pattern, text in _PATTERNS:
        match = pattern.search(message)
        if match:
            return text, match.groupdict()
    return N_("This value is not valid: %(detail)s"), {"detail": message}


@dataclass
class Form(Generic[T]):
    """A posted form: what was typed (to show again), the errors by field, and the Struct
    when every field is valid."""

    values: dict[str, Any]
    errors: dict[str, Message] = field(default_factory=dict)
    data: T | None = None
    message: Message | None = None  # about the whole form (a refusal of the service)
    notice: Message | None = None  # good news to show with it ("Saved.")

    @property
    def ok(self) -> bool:
        return self.data is not None and not self.errors and self.message is None

    def error(self, name: str) -> Message | None:
        return self.errors.get(name)

    def fail(
        self,
        exc: AppError,
        prefix: str = "",
        texts: Mapping[str, str] | None = None,
        beside: Mapping[str, str] | None = None,
    ) -> None:
        """Show a service's refusal: its field errors beside their fields (``prefix``
        dropped: ``settings.limit`` → ``limit``), anything else above the form, in the words
        of ``texts`` for its code (beside a field too) or ``ERROR_TEXTS`` (above the form).
        ``beside`` puts a refusal that names no field beside one, by its code
        (``{"pickup.code_invalid": "code"}``: the box the clerk types into again)."""
        placed = False
        words = (texts or {}).get(exc.code)  # the page's own words for this refusal
        for item in exc.errors:
            name = item.field.removeprefix(prefix)
            if name in self.values:
                self.errors[name] = (words, {}) if words else describe(item.message)
                placed = True
        if placed:
            self.data = None
            return
        text = words or ERROR_TEXTS.get(exc.code)
        said = (text, {}) if text else (N_("%(detail)s"), {"detail": exc.detail})
        field = (beside or {}).get(exc.code)
        if field is not None and field in self.values:
            self.errors[field] = said
        else:
            self.message = said
        self.data = None

    def refuse(
        self, exc: AppError, prefix: str = "", texts: Mapping[str, str] | None = None
    ) -> int:
        """``fail`` for a refusal of what the form asked; a refusal of the page itself (no
        such row, a role too low) is raised again, so the error page answers instead.
        Returns the status to answer with."""
        if exc.status in (401, 403, 404):
            raise exc
        self.fail(exc, prefix, texts)
        return exc.status


def _unwrap(info: mi.Type) -> tuple[mi.Type, bool, dict[str, Any]]:
    """(the type, whether None is allowed, its title/description)."""
    extra: dict[str, Any] = {}
    if isinstance(info, mi.Metadata):
        extra = {**(info.extra_json_schema or {}), **(info.extra or {})}
        info = info.type
    optional = False
    if isinstance(info, mi.UnionType):
        others = [t for t in info.types if not isinstance(t, mi.NoneType)]
        optional = len(others) < len(info.types)
        if len(others) == 1:
            inner, _, more = _unwrap(others[0])
            return inner, optional, {**more, **extra}
    return info, optional, extra


def _kind(info: mi.Type, extra: Mapping[str, Any] | None = None) -> str:
    if extra and extra.get("input") == "yuan" and isinstance(info, mi.IntType):
        return "money"
    if isinstance(info, mi.DateType):
        return "date"
    if isinstance(info, mi.BoolType):
        return "checkbox"
    if isinstance(info, mi.IntType):
        return "integer"
    if isinstance(info, mi.FloatType):
        return "number"
    if isinstance(info, mi.LiteralType | mi.EnumType):
        return "select"
    if isinstance(info, mi.StrType):
        return "text"
    if isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType) and isinstance(
        _unwrap(info.item_type)[0], mi.StrType
    ):
        return "lines"
    return "json"


def _options(info: mi.Type) -> list[str]:
    if isinstance(info, mi.LiteralType):
        return [str(v) for v in info.values]
    if isinstance(info, mi.EnumType):
        return [str(member.value) for member in info.cls]
    return []


def _coerce(kind: str, raw: Any, info: mi.Type) -> Any:
    """The typed value of one posted field; ValueError with a message when it is not one."""
    if kind == "checkbox":
        return raw not in (None, "", "0", "false", "off")
    text = raw if isinstance(raw, str) else ""
    if kind == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(WHOLE_NUMBER) from None
    if kind == "money":
        return parse_yuan(text)
    if kind == "date":
        text = text.strip()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(DATE)
        return text
    if kind == "number":
        try:
            return float(text.strip())
        except ValueError:
            raise ValueError(NUMBER) from None
    if kind == "select" and isinstance(info, mi.LiteralType) and info.values:
        if isinstance(info.values[0], int):
            try:
                return int(text)
            except ValueError:
                raise ValueError(N_("Choose one of the options.")) from None
        return text
    if kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(JSON_VALUE) from None
    return text  # as typed: a password's spaces are part of it


def parse_yuan(text: str) -> int:
    """ "12.5" (or "¥12.50") yuan → 1250 fen, exactly; ValueError for anything else."""
    match = _AMOUNT.match(text)
    if match is None:
        raise ValueError(AMOUNT)
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def yuan(fen: int | None) -> str:
    """Fen as a money input shows it: 1250 → "12.50"."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _in_yuan(message: Message) -> Message:
    """A bound of a money field, said in yuan (the Struct's bounds are fen)."""
    text, params = message
    bound = str(params.get("n", ""))
    if bound.lstrip("-").isdigit():
        params = {**params, "n": yuan(int(bound))}
    return text, params


def parse_form(raw: Mapping[str, Any], struct: type[T]) -> Form[T]:
    """Validate every field of ``struct`` from the posted ``raw`` values, collecting each
    field's error, then the Struct as a whole (its ``__post_init__``)."""
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    fields = {f.name: f for f in msgspec.structs.fields(struct)}
    form: Form[T] = Form(values={})
    typed: dict[str, Any] = {}
    for spec in info.fields:
        inner, optional, extra = _unwrap(spec.type)
        kind = _kind(inner, extra)
        value = raw.get(spec.name)
        form.values[spec.name] = value if kind != "checkbox" else _coerce(kind, value, inner)
        empty = value is None or (isinstance(value, str) and not value.strip())
        if kind != "checkbox" and empty:
            if optional:
                typed[spec.name] = None
                continue
            if spec.required:
                form.errors[spec.name] = (REQUIRED, {})
                continue
            if kind != "text" or value is None:
                continue  # not sent, or a number left blank: the default applies
            # An emptied text box means "": its own constraints (a minimum length) decide.
        try:
            coerced = _coerce(kind, value, inner)
            typed[spec.name] = msgspec.convert(coerced, fields[spec.name].type, strict=False)
        except msgspec.ValidationError as exc:  # a ValueError too: caught first
            problem = describe(str(exc))
            form.errors[spec.name] = _in_yuan(problem) if kind == "money" else problem
        except ValueError as exc:
            form.errors[spec.name] = (str(exc), {})
    if form.errors:
        return form
    try:
        form.data = msgspec.convert(typed, struct, strict=False)
    except msgspec.ValidationError as exc:
        form.message = (N_("%(detail)s"), {"detail": str(exc)})
    return form


async def read_form(request: Request[Any, Any, Any], struct: type[T]) -> Form[T]:
    posted = await request.form()
    return parse_form({key: posted.get(key) for key in posted}, struct)


def read_query(request: Request[Any, Any, Any], struct: type[T]) -> Form[T]:
    """A GET form (a list's filters) from the query string, checked like a posted one."""
    query = request.query_params
    return parse_form({key: query.get(key) for key in query}, struct)


# ---- generated forms ---------------------------------------------------------------------


@dataclass
class FieldSpec:
    """One input of a generated form."""

    name: str
    label: str  # msgid
    help: str  # msgid, "" for none
    kind: str  # checkbox | integer | number | money | date | select | text | lines | json
    value: Any
    required: bool
    options: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None

    @property
    def shown(self) -> str:
        """The value as the input shows it."""
        if self.kind == "lines" and isinstance(self.value, list | tuple | set | frozenset):
            return "\n".join(str(v) for v in self.value)
        if self.kind == "json" and not isinstance(self.value, str):
            return json.dumps(self.value, ensure_ascii=False)
        if self.kind == "money" and isinstance(self.value, int):
            return yuan(self.value)
        return "" if self.value is None else str(self.value)


def field_comments(struct: type) -> dict[str, str]:
    """The comments written above a field (or at the end of its line) in the Struct's
    source: the help text of settings that declare no ``Meta(description=...)``."""
    try:
        source = textwrap.dedent(inspect.getsource(struct))
    except (OSError, TypeError):
        return {}
    notes: dict[str, str] = {}
    pending: list[str] = []
    field_line = re.compile(r"^\s+(\w+)\s*:")
    lines = source.splitlines()
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(comments.get(number, ""))
            continue
        match = field_line.match(line)
        if match:
            text = " ".join(pending) or comments.get(number, "")
            if text:
                notes[match.group(1)] = text
        pending = []
    return notes


def humanise(name: str) -> str:
    return name.replace("_", " ").capitalize()


def form_fields(
    struct: type[msgspec.Struct], current: msgspec.Struct | Mapping[str, Any] | None = None
) -> list[FieldSpec]:
    """The inputs for ``struct``: the type picks the input, ``Meta(title, description)`` or
    the field's comment gives the label and help, and the current values (or the defaults)
    fill them."""
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    notes = field_comments(struct)
    if isinstance(current, msgspec.Struct):
        values = msgspec.structs.asdict(current)
    else:
        values = dict(current or {})
    specs = []
    for spec in info.fields:
        inner, _, extra = _unwrap(spec.type)
        default = spec.default if spec.default is not msgspec.NODEFAULT else None
        if spec.default_factory is not msgspec.NODEFAULT:
            default = spec.default_factory()
        bounds = inner if isinstance(inner, mi.IntType | mi.FloatType) else None
        specs.append(
            FieldSpec(
                name=spec.name,
                label=str(extra.get("title") or humanise(spec.name)),
                help=str(extra.get("description") or notes.get(spec.name, "")),
                kind=_kind(inner, extra),
                value=values.get(spec.name, default),
                required=spec.required,
                options=_options(inner),
                minimum=(bounds.ge if bounds.ge is not None else bounds.gt) if bounds else None,
                maximum=(bounds.le if bounds.le is not None else bounds.lt) if bounds else None,
                max_length=inner.max_length if isinstance(inner, mi.StrType) else None,
            )
        )
    return specs
