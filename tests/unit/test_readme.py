"""The configuration table (docs/configuration.md) is part of the product: every setting of every function is in it.

The README, the front door, opens with the two commands."""

from pathlib import Path

from infra.topology import FUNCTIONS
from trialgw.settings import env_var

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()


def test_every_setting_is_documented():
    documented = {line.split("`")[1] for line in CONFIGURATION.splitlines() if line.startswith("| `")}
    for function in FUNCTIONS:
        missing = {env_var(field) for field in function.settings_model.model_fields} - documented
        assert not missing, f"docs/configuration.md's configuration table lacks {sorted(missing)}"


def test_readme_opens_with_the_two_commands():
    head = README[:400]
    assert "make dev" in head
    assert "make test" in head
