"""How a console page speaks: the request's language (Chinese or English) and the lookup of a label table.

A label table maps each key to its (中文, English) texts; each console keeps its own table. The language is an
explicit choice (`?lang=`), else the `lang` cookie (set by the language switch), else the first of zh/en in
Accept-Language, else Chinese.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANG_COOKIE = "xyd_lang"

Labels = Mapping[str, tuple[str, str]]


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language for a request: an explicit choice, the cookie, then Accept-Language, then Chinese."""
    for explicit in (query, cookie):
        if explicit in LANGUAGES:
            return explicit
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def translator(lang: str, messages: Labels) -> Callable[..., str]:
    """`t(key, **values)` in `lang`; a missing key raises (each console's test keeps its used keys in its table)."""
    index = LANGUAGES.index(lang)

    def t(key: str, /, **values: object) -> str:
        text = messages[key][index]
        return text.format(**values) if values else text

    return t
