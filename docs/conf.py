"""Sphinx configuration: pydata theme, numpydoc API pages, sphinx-gallery from examples/."""

import os
from pathlib import Path

import matplotlib

import skautoint

matplotlib.use("Agg")
os.environ.setdefault("OMP_NUM_THREADS", "2")

ROOT = Path(__file__).resolve().parents[1]

project = "skautoint"
author = "skautoint developers"
copyright = "2026, skautoint developers"
release = version = skautoint.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
# scikit-learn's metadata-routing methods document themselves with links into scikit-learn's
# own docs, which this site does not have.
autodoc_default_options = {
    "members": True,
    "inherited-members": True,  # fit, score, attention_weights live on the shared base
    "exclude-members": "set_fit_request, set_score_request, set_partial_fit_request, "
                       "get_metadata_routing, add_note, with_traceback",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
exclude_patterns = ["_build", "generated/*.examples", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json",
                    "auto_examples/*.md5", "auto_examples/*.codeobj.json"]
nitpicky = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "plot_gallery": "True",
    # the timing pages load jQuery from a CDN: a table that breaks offline, for no reader
    "write_computation_times": False,
}

html_theme = "pydata_sphinx_theme"
html_title = "skautoint"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_context = {"default_mode": "light"}  # without it the theme logs an error on first load
# pages without subpages: no empty "Section Navigation" column beside them
html_sidebars = {page: [] for page in ["index", "user_guide", "with_other_tools", "scaling",
                                       "benchmarks", "bad_input"]}
html_static_path = []
templates_path = ["_templates"]
