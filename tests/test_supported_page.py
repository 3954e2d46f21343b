"""The supported-API page and the AttributeError hint: generated from torch's own public
names (torch is the oracle here) and from what chainrule has; both checked to be current."""

import json

import pytest
import torch

import chainrule as cr
from chainrule import _coverage


def test_recorded_torch_names_and_page_are_current():
    names = _coverage.record_torch_names()
    assert json.loads(_coverage.NAMES_FILE.read_text()) == names, (
        "torch's names changed: run python -m chainrule._coverage"
    )
    assert _coverage.PAGE.read_text() == _coverage.page(names), (
        "docs/supported.md is stale: run python -m chainrule._coverage"
    )


def test_page_statuses_agree_with_what_each_namespace_has():
    text = _coverage.PAGE.read_text()
    assert "`torch.nn.init` | 26 | 26 |" in text  # every init function is implemented
    for ns, names in _coverage.torch_names().items():
        assert f"## `{ns}`" in text and len(names) > 0
    # a name torch has and chainrule implements, and one it lacks, land on the right side
    nn_section = text.split("## `torch.nn`\n")[1].split("## ")[0]
    implemented, missing = nn_section.split("**Not yet")
    assert "`Linear`" in implemented and "`Linear`" not in missing
    assert hasattr(torch.nn, "AdaptiveLogSoftmaxWithLoss")
    assert "`AdaptiveLogSoftmaxWithLoss`" in missing


MISSING = [
    (lambda: cr.nn.AdaptiveLogSoftmaxWithLoss, "torch.nn.AdaptiveLogSoftmaxWithLoss"),
    (lambda: cr.nn.functional.grid_sample, "torch.nn.functional.grid_sample"),
    (lambda: cr.ones(1).stft, "torch.Tensor.stft"),
    (lambda: cr.stft, "torch.stft"),
    (lambda: cr.linalg.ldl_factor, "torch.linalg.ldl_factor"),
]


@pytest.mark.parametrize("k", range(len(MISSING)))
def test_attribute_error_names_torchs_missing_name_and_points_to_the_page(k):
    get, full = MISSING[k]
    with pytest.raises(AttributeError) as e:
        get()
    assert f"chainrule does not implement {full} yet" in str(e.value)
    assert "docs/supported.md" in str(e.value)


def test_names_torch_lacks_get_the_plain_message():
    with pytest.raises(AttributeError) as e:
        cr.ones(1).not_a_torch_method  # noqa: B018
    assert str(e.value) == "'Tensor' object has no attribute 'not_a_torch_method'"
    with pytest.raises(AttributeError) as e:
        cr.nn.NotALayer  # noqa: B018
    assert str(e.value) == "module 'chainrule.nn' has no attribute 'NotALayer'"
    assert not hasattr(cr.ones(1), "stft") and hasattr(cr.ones(1), "exp")
