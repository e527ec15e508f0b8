"""The modules of the optional features (grain, notebooks, pictures) skip
their tests only where their dependency is missing. This test makes sure that
never happens silently where the tests are meant to run: every package of
the ``test`` extra in pyproject.toml must import, so an incomplete install
fails here, naming the package, instead of skipping those tests."""

import importlib
import re
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# Import names that differ from the distribution names.
IMPORT_NAMES = {"pytest-xdist": "xdist"}


def _test_extra() -> list[str]:
    extra = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["test"]
    return [re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0] for requirement in extra]


def test_the_test_extra_lists_the_optional_features():
    names = set(_test_extra())
    assert {"grain", "nbclient", "nbformat", "ipykernel", "matplotlib"} <= names


@pytest.mark.parametrize("package", _test_extra())
def test_every_package_of_the_test_extra_imports(package):
    module = IMPORT_NAMES.get(package, package.replace("-", "_"))
    try:
        importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"{package} (test extra) is not installed: pip install -e '.[test]' ({error})")
