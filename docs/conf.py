"""Sphinx configuration of the skae documentation.

Build with ``bash docs/build.sh`` (doctests, then HTML with warnings as
errors), or the HTML alone with::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API reference and the gallery follow what ``skae`` exports: see the
local extension ``_ext/skae_docs.py``.
"""

import os
import re
import sys
from pathlib import Path

# Before TensorFlow is imported (by autodoc or by the gallery scripts).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import skae_docs  # noqa: E402
from numpydoc.xref import DEFAULT_LINKS  # noqa: E402

import skae  # noqa: E402

# -- Project -------------------------------------------------------------------------------
project = "skae"
author = "skae developers"
copyright = "skae developers"  # noqa: A001
release = skae.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "skae_docs",
]
exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints"]
default_role = "literal"
# Examples keep their ">>>" prompts; doctest flags such as "+SKIP" are hidden.
trim_doctest_flags = True

# -- autodoc / numpydoc --------------------------------------------------------------------
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"
autosummary_generate = False  # skae_docs writes the API pages
numpydoc_show_class_members = False  # autodoc's :members: lists the methods
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Parameter types become :obj: references: the names skae documents are linked, other
# names render as code. numpydoc's default aliases point into other projects' docs
# (through intersphinx, which would need the network at build time), so they are
# turned back into plain words.
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    **{word: word for word in DEFAULT_LINKS},
    **{name: f"skae.{name}" for name in skae.__all__ if not name.startswith("_")},
}
numpydoc_xref_ignore = {
    *DEFAULT_LINKS,
    *"of or and shape default optional instance like the a an to with same as in for".split(),
    *"estimator file binary values value fitted transformer skae".split(),
}

# -- HTML ----------------------------------------------------------------------------------
# The theme of the scikit-learn ecosystem (scikit-learn, numpy, pandas).
html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_show_sourcelink = False

# -- Gallery -------------------------------------------------------------------------------
EXAMPLES = HERE.parent / "examples"

sphinx_gallery_conf = {
    "examples_dirs": str(EXAMPLES),
    "gallery_dirs": "auto_examples",
    "filename_pattern": re.escape(os.sep) + "plot_",
    # Scripts that import a name skae does not export (yet) are left out.
    "ignore_pattern": "|".join([r"__init__\.py", *skae_docs.examples_to_skip(EXAMPLES)]),
    "within_subsection_order": "skae_docs.GalleryOrder",
    "abort_on_example_error": True,  # a failing script fails the build
    "capture_repr": (),
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_modules": ("matplotlib",),
    "show_signature": False,
    "min_reported_time": 0,
    # Each API page lists the examples that use its object (.. minigallery::).
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skae",),
}
