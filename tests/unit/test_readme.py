"""The README's configuration table is part of the product: every setting of every function is in it."""

from pathlib import Path

from infra.topology import FUNCTIONS
from trialgw.settings import env_var

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented():
    documented = {line.split("`")[1] for line in README.splitlines() if line.startswith("| `")}
    for function in FUNCTIONS:
        missing = {env_var(field) for field in function.settings_model.model_fields} - documented
        assert not missing, f"README configuration table lacks {sorted(missing)}"


def test_readme_opens_with_the_two_commands():
    head = README[:400]
    assert "make dev" in head
    assert "make test" in head
