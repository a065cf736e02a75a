"""The HTML repr links each estimator to its page in the API reference, and the docstrings
give the defaults the signatures have."""

import ast
import inspect
import re

import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import skae
from skae._base import DOCS_URL

ESTIMATORS = [
    name
    for name in skae.__all__
    if inspect.isclass(obj := getattr(skae, name)) and not inspect.isabstract(obj)
]


@pytest.mark.parametrize("name", ESTIMATORS)
def test_doc_link_is_the_api_page(name):
    # docs/_ext/skae_docs.py writes the page of skae.<name> as gen_modules/skae.<name>.rst.
    expected = f"{DOCS_URL}gen_modules/skae.{name}.html"
    assert getattr(skae, name)()._get_doc_link() == expected


def test_html_repr_of_a_pipeline_links_to_the_page():
    html = make_pipeline(MinMaxScaler(), skae.StackedAE())._repr_html_()
    assert f'href="{DOCS_URL}gen_modules/skae.StackedAE.html"' in html


def test_subclasses_outside_skae_get_no_link():
    class MyAE(skae.StackedAE):
        pass

    assert MyAE()._get_doc_link() == ""


@pytest.mark.parametrize("name", ESTIMATORS)
def test_documented_defaults_are_the_defaults(name):
    # "learning_rate : float, default=5e-3" in the docstring is what the signature says; the
    # thin families (DenoisingAE, SparseAE) document only what differs, in prose.
    cls = getattr(skae, name)
    doc = inspect.getdoc(cls)
    checked = 0
    for parameter in inspect.signature(cls).parameters.values():
        match = re.search(rf"^{parameter.name} : .*default=(.+)$", doc, re.M)
        if match is None:
            continue
        try:
            documented = ast.literal_eval(match.group(1).strip())
        except (ValueError, SyntaxError):  # a prose default such as "StackedAE()"
            continue
        assert documented == parameter.default, (parameter.name, documented)
        checked += 1
    assert checked > 0 or not re.search(r"^Parameters\n-+$", doc, re.M)
