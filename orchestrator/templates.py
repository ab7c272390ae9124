"""Message templates: Jinja2 in its sandbox, compiled once per campaign version."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError as JinjaError
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateError", "check_template", "render"]

# Campaign authors are trusted less than code: the sandbox keeps templates from reaching
# Python internals, and nothing a template does can change the data it is given.
_text = ImmutableSandboxedEnvironment(autoescape=False)
_html = ImmutableSandboxedEnvironment(autoescape=True)


#: Every Jinja2 tag, expression and comment begins with it: text without it is the output.
_MARKUP = "{"


class TemplateError(ValueError):
    """A template that does not compile or cannot be rendered."""


def _environment(field: str) -> ImmutableSandboxedEnvironment:
    return _html if field == "html" else _text


@lru_cache(maxsize=4096)
def _compiled(field: str, source: str) -> Any:
    return _environment(field).from_string(source)


def check_template(field: str, source: str) -> None:
    """Raise TemplateError, with the line, if `source` does not compile."""
    try:
        _compiled(field, source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from exc


def render(template: Mapping[str, str], context: Mapping[str, Any]) -> dict[str, str]:
    """Every field of a step's template rendered for one contact (`html` autoescaped)."""
    try:
        return {
            field: _compiled(field, source).render(context) if _MARKUP in source else source
            for field, source in template.items()
        }
    except JinjaError as exc:
        raise TemplateError(str(exc)) from exc
    except Exception as exc:  # any failure of a template's own logic: 1 // 0, "a" + 1
        raise TemplateError(f"{type(exc).__name__}: {exc}") from exc
