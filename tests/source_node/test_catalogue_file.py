"""A source node's catalogue from a file beside its approval key (`[catalogue] file`), as the container manifest
mounts it: the same items as inline `[[catalogue.items]]`, and a clear refusal for a missing, malformed or
ambiguous one."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent.governance import create_approval_key
from federation.config import ConfigError, load_node_config
from sandbox.governance import catalogue_items, catalogue_toml
from sandbox.synthdata import generate
from source_node.governance.node_governance import open_governance
from tables import load_table


@pytest.fixture(scope="module")
def unit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tax table, its catalogue file and the administrator's public key, as a governance volume holds them."""
    folder = tmp_path_factory.mktemp("unit")
    generate(60, 3, folder / "data")
    create_approval_key(folder / "approval.key", folder / "approval.pub")
    items = catalogue_items(folder / "data" / "tax.toml")
    (folder / "catalogue.toml").write_text("\n".join(catalogue_toml(items)), encoding="utf-8")
    return folder


def _config(folder: Path, catalogue: str) -> Path:
    path = folder / "node.toml"
    path.write_text(f'[node]\nstate_dir = "{folder / "state"}"\n[tls]\nca = "ca.pem"\ncert = "c.pem"\nkey = "k.pem"\n'
                    f'[governance]\napproval_key = "approval.pub"\n{catalogue}', encoding="utf-8")
    return path


def _open(folder: Path, catalogue: str):
    table = load_table(folder / "data" / "tax.toml", folder / "data" / "tax.csv")
    return open_governance(load_node_config(_config(folder, catalogue), env={}), table, "source/tax")


def test_a_catalogue_file_gives_the_same_catalogue_as_inline_items(unit: Path) -> None:
    from_file = _open(unit, '[catalogue]\nfile = "catalogue.toml"\n')  # relative to the config's folder
    try:
        via_file = from_file.catalogue()
    finally:
        from_file.close()
    inline = _open(unit, (unit / "catalogue.toml").read_text(encoding="utf-8"))
    try:
        assert via_file == inline.catalogue()
    finally:
        inline.close()
    assert sorted(i.name for i in via_file.items) == sorted(i["name"] for i in catalogue_items(unit / "data" / "tax.toml"))


@pytest.mark.parametrize(("catalogue", "content", "message"), [
    ('[catalogue]\nfile = "missing.toml"\n', None, "does not exist"),
    ('[catalogue]\nfile = "bad.toml"\n', "[[catalogue.items]\nname = ", "is not valid TOML"),
    ('[catalogue]\nfile = "bad.toml"\n', '[governance]\napproval_key = "o.pub"\n', "tables only"),
    ('[catalogue]\nfile = "catalogue.toml"\n[[catalogue.items]]\nname = "x"\n', None, "either `file` or `items`"),
])
def test_a_missing_malformed_or_ambiguous_catalogue_file_is_refused(unit: Path, catalogue: str, content: str | None,
                                                                      message: str) -> None:
    if content is not None:
        (unit / "bad.toml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        _open(unit, catalogue)


def test_a_catalogue_file_naming_a_column_the_table_lacks_is_refused(unit: Path) -> None:
    text = (unit / "catalogue.toml").read_text(encoding="utf-8")
    (unit / "bad.toml").write_text(text + '\n[[catalogue.items]]\nname = "no_such_column"\ncategory = "TAX"\n'
                                   'description = "x"\nunit = ""\nupdate_frequency = "monthly"\n'
                                   'sensitivity = "PUBLIC"\ncondition = "unconditional"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="not columns of the node's table"):
        _open(unit, '[catalogue]\nfile = "bad.toml"\n')
