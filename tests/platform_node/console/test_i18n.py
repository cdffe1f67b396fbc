"""Every label of the console exists in Chinese and English, and the language is chosen as documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from platform_node.console import i18n
from platform_node.console.batch_runs import RunState
from platform_node.console.i18n import LANGUAGES, MESSAGES, choose_language, translator
from platform_node.console.render import NAVIGATION
from platform_node.console.use_pages import STATES
from platform_node.institutions.model import Role
from platform_node.statistics import FIGURE_FIELDS, Dimension
from platform_node.uses.feedback import Decision, RepaymentOutcome
from platform_node.uses.records import UseKind

CONSOLE = Path(i18n.__file__).parent
PREFIXES = {key.split(".")[0] for key in MESSAGES}
_ALTERNATIVES = "|".join(sorted(PREFIXES))
KEY = re.compile(r"""["']((?:""" + _ALTERNATIVES + r""")\.[A-Za-z_.]*[A-Za-z_])["']""")


def _used_keys() -> set[str]:
    found = set()
    for path in [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        found |= {k for k in KEY.findall(text) if not k.endswith((".", ".html", ".csv"))}  # not file names
    return found - {"app.state"}  # FastAPI's attribute, not a label


def test_every_key_a_page_uses_is_in_the_catalogue() -> None:
    used = _used_keys()
    assert len(used) > 150
    assert used <= set(MESSAGES), sorted(used - set(MESSAGES))


def test_every_key_built_from_a_value_is_in_the_catalogue() -> None:
    families = {
        "role.": [r.value for r in Role] + ["enterprise", "source_admin"], "batch.state.": [s.value for s in RunState],
        "decision.": [d.value for d in Decision], "outcome.": [o.value for o in RepaymentOutcome],
        "uses.state.": list(STATES), "uses.kind.": [k.value for k in UseKind], "stats.f.": list(FIGURE_FIELDS),
        "stats.by.": [d.value for d in Dimension], "stats.": [d.value for d in Dimension],
    }
    missing = [prefix + v for prefix, values in families.items() for v in values if prefix + v not in MESSAGES]
    assert not missing
    assert all(entry.label in MESSAGES for entries in NAVIGATION.values() for entry in entries)


def test_both_languages_are_written_and_placeholders_agree() -> None:
    for key, texts in MESSAGES.items():
        assert len(texts) == len(LANGUAGES) and all(t.strip() for t in texts), key
        zh, en = (set(re.findall(r"\{(\w+)\}", t)) for t in texts)
        assert zh == en, key
        assert re.search(r"[\u4e00-\u9fff]", texts[0]) or key in {"nav.language"} or texts[0] == texts[1] \
            or not re.search(r"[A-Za-z]{4}", texts[0]), key


@pytest.mark.parametrize(("query", "cookie", "header", "chosen"), [
    ("en", "zh", "zh-CN", "en"), (None, "en", "zh-CN", "en"), (None, None, "en-GB,en;q=0.9", "en"),
    (None, None, "zh-TW,en;q=0.5", "zh"), (None, None, "fr-FR", "zh"), ("xx", "yy", None, "zh"),
])
def test_language_choice(query, cookie, header, chosen) -> None:
    assert choose_language(query, cookie, header) == chosen


def test_translator_fills_placeholders_and_refuses_unknown_keys() -> None:
    assert translator("en")("batch.too_many", max=10) == "At most 10 credit codes."
    assert translator("zh")("batch.too_many", max=10) == "最多 10 个统一社会信用代码。"
    with pytest.raises(KeyError):
        translator("en")("no.such.key")
