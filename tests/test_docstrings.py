"""Every public name a user can reach has a docstring: Tensor's methods and properties (most
are made from registry declarations, so their docstring is the declared function's), every
function and class the public namespaces export, and the public methods and properties of
those classes (an override without one of its own takes its base's, as ``inspect.getdoc``
does: ``Linear.forward`` is ``Module.forward``). `help(x.item)` and the API pages show them."""

from __future__ import annotations

import importlib
import inspect

import chainrule as cr

# the namespaces a user imports (and the API pages document)
PUBLIC_MODULES = [
    "chainrule._api",  # everything `import chainrule as cr` offers
    "chainrule.nn",
    "chainrule.nn.functional",
    "chainrule.nn.init",
    "chainrule.nn.utils",
    "chainrule.nn.utils.rnn",
    "chainrule.nn.attention",
    "chainrule.linalg",
    "chainrule.special",
    "chainrule.func",
    "chainrule.autograd",
    "chainrule.autograd.functional",
    "chainrule.autograd.forward_ad",
    "chainrule.autograd.graph",
    "chainrule.optim",
    "chainrule.optim.lr_scheduler",
    "chainrule.optim.swa_utils",
    "chainrule.distributions",
    "chainrule.utils.data",
    "chainrule.utils.checkpoint",
    "chainrule.serialization",
    "chainrule.viz",
    "chainrule.scalar",
    "chainrule.datasets",
    "chainrule.utils.tensorboard",
    "chainrule.utils.hooks",
    "chainrule.safetensors",
    "chainrule.distributed",
    "chainrule.nn.parallel",
    "chainrule.distributions.constraints",
    "chainrule.amp",
    "chainrule.cuda",
    "chainrule.accelerator",
    "chainrule.onnx",
    "chainrule.compiler",
]


def _doc_of_member(owner: type, name: str) -> str:
    """The docstring of ``owner.name``, or of the same name on a base class."""
    for klass in owner.__mro__:
        attr = vars(klass).get(name)
        if attr is None:
            continue
        if isinstance(attr, property):
            attr = attr.fget
        elif isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        doc = getattr(attr, "__doc__", None)
        if doc and doc.strip():
            return doc
    return ""


def _members(owner: type) -> list[str]:
    """The public methods and properties chainrule defines on ``owner`` (or its bases)."""
    names = []
    for name in dir(owner):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(owner, name)
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        if not (isinstance(attr, property) or inspect.isfunction(attr)):
            continue
        home = next(k for k in owner.__mro__ if name in vars(k))
        if home.__module__.startswith("chainrule"):
            names.append(name)
    return names


def _public_names(modname: str) -> list[tuple[str, object]]:
    mod = importlib.import_module(modname)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in vars(mod) if not n.startswith("_")]
    out = []
    for n in names:
        obj = getattr(mod, n)
        if inspect.ismodule(obj) or not callable(obj):
            continue  # dtypes, constants, submodules
        if isinstance(obj, type) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
            out.append((n, obj))
        elif isinstance(getattr(obj, "__class__", None), type) and callable(obj):
            out.append((n, obj))  # callable objects: cr.FloatTensor ...
    return out


def missing_docstrings() -> list[str]:
    missing = []
    for name in _members(cr.Tensor):
        if not _doc_of_member(cr.Tensor, name).strip():
            missing.append(f"Tensor.{name}")
    for modname in PUBLIC_MODULES:
        public = modname.replace("._api", "")
        for n, obj in _public_names(modname):
            doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else inspect.getdoc(obj)
            if not (doc or "").strip():
                missing.append(f"{public}.{n}")
            if isinstance(obj, type) and obj is not cr.Tensor:
                for name in _members(obj):
                    if not _doc_of_member(obj, name).strip():
                        missing.append(f"{public}.{n}.{name}")
    return sorted(set(missing))


def test_the_count_sees_tensor_methods_and_functions():
    """The walk reaches what it should (so a zero below means something)."""
    members = _members(cr.Tensor)
    assert {"item", "tolist", "requires_grad_", "add", "shape", "grad", "backward"} <= set(members)
    assert len(members) > 250
    top = dict(_public_names("chainrule._api"))
    assert top["zeros"] is cr.zeros and top["Tensor"] is cr.Tensor


def test_every_public_method_and_function_has_a_docstring():
    missing = missing_docstrings()
    assert not missing, f"{len(missing)} public names without a docstring: {missing}"


if __name__ == "__main__":  # the count, for the record
    print(len(missing_docstrings()))
