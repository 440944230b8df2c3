"""The documentation covers the public API and its pages are wired into the site."""

import importlib
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PUBLIC_MODULES = ["skautoint", "skautoint.inspection", "skautoint.serving",
                  "skautoint.persistence", "skautoint.exceptions", "skautoint.datasets"]
MODULES_NOT_NAMES = {"exceptions", "inspection", "persistence", "__version__"}


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_in_the_api_reference(module_name):
    api = (DOCS / "api.rst").read_text()
    module = importlib.import_module(module_name)
    for name in set(module.__all__) - MODULES_NOT_NAMES:
        qualified = f"{module_name}.{name}"
        assert qualified in api or f"skautoint.{name}" in api, f"{qualified} not in api.rst"


def test_every_page_and_example_is_reachable_from_the_index():
    index = (DOCS / "index.rst").read_text()
    for page in DOCS.glob("*.rst"):
        if page.stem not in {"index", "sg_execution_times"}:  # the latter: built by the gallery
            assert f"   {page.stem}\n" in index, f"{page.name} is not in the index toctree"
    assert "auto_examples/index" in index
    examples = sorted(p.name for p in (DOCS.parent / "examples").glob("*.py"))
    assert examples
    # the gallery runs plot_* examples; a script it only shows (torchrun) is run by a test
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    for name in examples:
        assert name.startswith("plot_") or f'"{name}"' in tests, f"{name} is run nowhere"
