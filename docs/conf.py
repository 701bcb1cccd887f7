"""Sphinx configuration of the wavedil documentation site (``make docs``).

Docstrings are Google style ("Args:" sections, "Shape:" lines): napoleon reads them.
Guides are Markdown (MyST); the gallery runs every ``examples/*.py`` (sphinx-gallery).
Generated sources (``api/generated/``, ``gallery/``) are not committed.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the checkout's wavedil, not an installed copy

import wavedil_reference  # noqa: E402
from sphinx.util.inspect import TypeAliasForwardRef  # noqa: E402

import wavedil  # noqa: E402

project = "wavedil"
author = "the wavedil developers"
copyright = "the wavedil developers"
release = version = wavedil.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "wavedil_cli",
    "wavedil_reference",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "gallery/*.ipynb", "gallery/*.py", "gallery/*.zip"]
root_doc = "index"
nitpicky = False
smartquotes = False  # "--option" stays two hyphens in help texts and docstrings

# -- autodoc, autosummary, napoleon ---------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
# the class template's :inherited-members: names and public bases (wavedil_reference: a class
# page shows what it inherits from a private base, a public base's members stay on its page)
autosummary_context = wavedil_reference.template_context()
autodoc_member_order = "bysource"
autodoc_typehints = "description"  # types in the parameter list, signatures stay short
autodoc_typehints_format = "short"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
autodoc_type_aliases = {  # shown by name, not expanded into numpy's long unions
    "npt.ArrayLike": "numpy.typing.ArrayLike",
    "npt.DTypeLike": "numpy.typing.DTypeLike",
    "WaveletLike": "wavedil.wavelets.banks.WaveletLike",
}
# Sphinx 9.0 prints an alias nested in another type (``npt.ArrayLike | None``) by its repr,
# ``TypeAliasForwardRef('numpy.typing.ArrayLike')``: print the alias's name instead.
TypeAliasForwardRef.__repr__ = lambda self: self.name
autodoc_inherit_docstrings = False  # torch's docstrings are not ours to render
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- MyST ----------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# -- the gallery ---------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["gallery"],
    # run every example except the one that trains for minutes (it writes the shipped model;
    # its page shows the code, data/effect_model.npz is what it made)
    "filename_pattern": r"^(?!.*train_effect\.py$)",
    "ignore_pattern": r"__init__\.py",
    "reset_argv": "wavedil_cli.gallery_argv",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "plot_gallery": "True",
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "matplotlib_animations": False,
}

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"wavedil {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": []}
html_show_sourcelink = False
