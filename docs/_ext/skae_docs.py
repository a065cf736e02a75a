"""Sphinx helpers for the skae documentation (a local extension, loaded by conf.py).

- The API reference is generated from ``skae.__all__`` and
  ``skae.plot.__all__`` when the build starts: one page per public object
  in ``gen_modules/`` and one ``gen_modules/<section>.rst.inc`` table per
  section of ``api.rst``. An estimator gets its page as soon as the
  package exports it.
- ``.. skae-if-exported:: Name [Name ...]`` shows its content only when
  ``skae`` exports every name, and a note otherwise.
- Gallery scripts that import a name ``skae`` does not export are left out
  of the gallery (:func:`examples_to_skip`), and :class:`GalleryOrder`
  orders the gallery.
- Class pages list inherited methods too (``set_output``, ``get_params``...);
  the references of scikit-learn's docstrings to its own documentation
  labels and glossary, which do not exist here, become plain text.
- Every API page ends with the gallery examples that use its object
  (sphinx-gallery's backreferences, ``.. minigallery::``).
"""

import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive

import skae
import skae.plot

GENERATED = Path(__file__).resolve().parent.parent / "gen_modules"

# Gallery order: the basic comparison first; scripts not listed follow by file name.
GALLERY_ORDER = [
    "plot_stacked_vs_pca.py",
    "plot_latent_space.py",
    "plot_denoising.py",
    "plot_sparse_features.py",
    "plot_variational.py",
    "plot_convolutional.py",
    "plot_outliers.py",
    "plot_save_load.py",
]
# Order of the autoencoders in the API reference; others follow by name.
FAMILY_ORDER = ["StackedAE", "DenoisingAE", "SparseAE", "VariationalAE", "ConvolutionalAE"]


# ---------------------------------------------------------------------- gallery
class GalleryOrder:
    """sphinx-gallery ``within_subsection_order``: :data:`GALLERY_ORDER` first."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        rank = GALLERY_ORDER.index(name) if name in GALLERY_ORDER else len(GALLERY_ORDER)
        return rank, name

    def __repr__(self):
        return f"<{type(self).__name__}>"


def examples_to_skip(examples_dir):
    """File names (as regular expressions) of scripts that import unexported skae names."""
    exported = set(skae.__all__) | {"plot"}
    skipped = []
    for script in sorted(Path(examples_dir).glob("*.py")):
        source = script.read_text()
        lists = re.findall(r"^from skae import \(([^)]*)\)", source, re.M)
        lists += re.findall(r"^from skae import ([^(\n]+)$", source, re.M)
        imported = {name.split(" as ")[0].strip() for names in lists for name in names.split(",")}
        if imported - {""} - exported:
            skipped.append(re.escape(script.name))
    return skipped


# ---------------------------------------------------------------------- API pages
def _public_names():
    """``{section: [(qualified name, kind), ...]}`` for the API reference."""
    from sklearn.base import BaseEstimator

    sections = {"autoencoders": [], "estimators": [], "functions": [], "plot": [], "base": []}
    names = sorted(
        (n for n in skae.__all__ if not n.startswith("_")),
        key=lambda n: (FAMILY_ORDER.index(n) if n in FAMILY_ORDER else len(FAMILY_ORDER), n),
    )
    for name in names:
        obj = getattr(skae, name)
        if obj is skae.BaseAutoencoder:
            sections["base"].append((f"skae.{name}", "class"))
        elif isinstance(obj, type) and issubclass(obj, skae.BaseAutoencoder):
            sections["autoencoders"].append((f"skae.{name}", "class"))
        elif isinstance(obj, type) and issubclass(obj, BaseEstimator):
            sections["estimators"].append((f"skae.{name}", "class"))
        elif callable(obj):
            sections["functions"].append((f"skae.{name}", "function"))
    sections["plot"] = [(f"skae.plot.{name}", "function") for name in sorted(skae.plot.__all__)]
    return sections


_CLASS_PAGE = """\
{title}
{underline}

.. currentmodule:: {module}

.. autoclass:: {name}
   :members:
   :inherited-members:

.. minigallery:: {module}.{name}
   :add-heading: Examples using ``{module}.{name}``
"""

_FUNCTION_PAGE = """\
{title}
{underline}

.. currentmodule:: {module}

.. autofunction:: {name}

.. minigallery:: {module}.{name}
   :add-heading: Examples using ``{module}.{name}``
"""


def _write_if_changed(path, text):
    # Rewriting an unchanged file would make Sphinx read it again.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _class_page(name, fields):
    return _CLASS_PAGE.format(name=name, **fields)


def write_api_pages(app):
    """One page per public object and one ``.rst.inc`` table per API section."""
    GENERATED.mkdir(exist_ok=True)
    wanted = set()
    for section, entries in _public_names().items():
        if entries:
            module = entries[0][0].rsplit(".", 1)[0]
            lines = [f".. currentmodule:: {module}", "", ".. autosummary::", ""]
            lines += [f"   {qualified.rsplit('.', 1)[1]}" for qualified, _ in entries]
            lines += ["", ".. toctree::", "   :hidden:", ""]
            lines += [f"   gen_modules/{qualified}" for qualified, _ in entries]
        else:
            lines = ["Nothing in this section is exported by this version of skae."]
        _write_if_changed(GENERATED / f"{section}.rst.inc", "\n".join(lines) + "\n")
        for qualified, kind in entries:
            module, name = qualified.rsplit(".", 1)
            title = f"``{qualified}``"
            fields = {"title": title, "underline": "=" * len(title), "module": module}
            if kind == "class":
                text = _class_page(name, fields)
            else:
                text = _FUNCTION_PAGE.format(name=name, **fields)
            _write_if_changed(GENERATED / f"{qualified}.rst", text)
            wanted.add(f"{qualified}.rst")
    for stale in GENERATED.glob("skae.*.rst"):
        if stale.name not in wanted:
            stale.unlink()


# ---------------------------------------------------------------------- directive
class IfExported(Directive):
    """``.. skae-if-exported:: Name [Name ...]``: the content only if skae exports every name.

    Otherwise a short note says the estimator is not in this version. Family
    pages use it for figures and links of estimators still being added.
    """

    required_arguments = 1
    final_argument_whitespace = True
    has_content = True

    def run(self):
        missing = [n for n in self.arguments[0].split() if n not in skae.__all__]
        if missing:
            text = f"{', '.join(missing)} is not exported by skae {skae.__version__} yet."
            return [nodes.note("", nodes.paragraph(text=text))]
        container = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, container)
        return container.children


# ---------------------------------------------------------------------- autodoc hooks
# :ref:`text <label>`, :ref:`label`, :term:`text <term>`, :term:`term`.
_SKLEARN_ROLE = re.compile(r":(ref|term):`([^`<]*?)\s*(?:<([^`>]*)>)?`")


def _plain(match):
    role, text, target = match.groups()
    if role == "term":
        return text or target
    return text if target is not None else "scikit-learn's documentation"


def plain_scikit_learn_references(app, what, name, obj, options, lines):
    """Turn the labels and glossary terms of inherited scikit-learn docstrings into text.

    They point into scikit-learn's documentation, which this build does not have,
    so Sphinx would fail on them.
    """
    module = getattr(obj, "__module__", None) or ""
    if module.split(".")[0] == "sklearn":
        lines[:] = [_SKLEARN_ROLE.sub(_plain, line) for line in lines]


_PARAMETER_LINE = re.compile(r"^(\s*\*{0,2}\w+\s+:\s+)(.+)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def quote_attribute_names_in_types(app, what, name, obj, options, lines):
    """Quote ``n_features_in_`` in a type such as ``(n_features_in_,)``.

    Unquoted, reST reads a word ending in ``_`` as a link to a target of
    that name, and fails. Runs before numpydoc (priority 400) on the raw
    docstring lines.
    """
    for i, line in enumerate(lines):
        match = _PARAMETER_LINE.match(line)
        if match:
            head, kind = match.groups()
            lines[i] = head + _TRAILING_UNDERSCORE.sub(r"``\1``", kind)


def setup(app):
    app.connect("builder-inited", write_api_pages)
    app.connect("autodoc-process-docstring", plain_scikit_learn_references, priority=400)
    app.connect("autodoc-process-docstring", quote_attribute_names_in_types, priority=400)
    app.add_directive("skae-if-exported", IfExported)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
