"""dtypes.scalar_type_name / tensor_type_name / c_type_name: torch's names of every dtype in
its messages (one table in dtypes.py instead of a copy in each file)."""

import pytest
import torch

import chainrule as cr
from chainrule import dtypes

NAMES = [d.name for d in dtypes.ALL]


def torch_error(fn):
    with pytest.raises(Exception) as info:
        fn()
    return str(info.value).replace("torch.", "chainrule.")


@pytest.mark.parametrize("name", NAMES)
def test_type_names_match_torch(name):
    t = torch.zeros(1, dtype=getattr(torch, name))
    assert f"torch.{dtypes.tensor_type_name(name)}" == t.type()
    assert dtypes.tensor_type_name(cr.zeros(1, dtype=getattr(cr, name))) == t.type()[6:]


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("bool", "uint8")])
def test_where_condition_message_names_the_dtype_like_torch(name):
    def run(m):
        return torch_error(lambda: m.where(m.zeros(2, dtype=getattr(m, name)), 1.0, 0.0))

    assert run(cr) == run(torch)


def test_where_accepts_a_uint8_condition_with_torch_warning():
    results = []
    for m in (cr, torch):
        with pytest.warns(UserWarning, match="where received a uint8 condition tensor"):
            out = m.where(m.tensor([0, 1, 2], dtype=m.uint8), 1.0, 0.0)
        results.append(out.tolist())
    assert results[0] == results[1]


@pytest.mark.parametrize("name", [n for n in NAMES if n != "bool"])
def test_masked_fill_mask_message_names_the_c_type_like_torch(name):
    def run(m):
        mask = m.zeros(2, dtype=getattr(m, name))
        return torch_error(lambda: m.zeros(2).masked_fill(mask, 1.0))

    assert run(cr) == run(torch)


@pytest.mark.parametrize("name", ["bool", "int8", "int16", "int32", "int64", "uint8"])
def test_not_implemented_for_integer_and_bool_names_like_torch(name):
    def run(m):
        return torch_error(lambda: m.zeros(2, dtype=getattr(m, name)).frac())

    assert run(cr) == run(torch)
