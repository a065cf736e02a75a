"""The HTML repr links each estimator to its page in the API reference."""

import inspect

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
