"""The type stubs (tunalloc/__init__.pyi) cannot drift from the code: every
public name has a stub and every stub a public name; every stubbed function
and method takes the parameters the code takes (names, kinds, which have
defaults); properties and plain attributes stay what they are."""
import ast
import inspect
import os

import tunalloc

STUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                    "bindings", "python", "tunalloc", "__init__.pyi")


def stub_module():
    with open(STUB) as f:
        return ast.parse(f.read())


def is_overload(fn):
    return any(isinstance(d, ast.Name) and d.id == "overload" for d in fn.decorator_list)


def is_property(fn):
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


def stub_params(fn):
    """(name, kind, has default) per parameter, as inspect names kinds."""
    a = fn.args
    out = []
    positional = a.posonlyargs + a.args
    first_default = len(positional) - len(a.defaults)
    for i, p in enumerate(positional):
        kind = "POSITIONAL_ONLY" if i < len(a.posonlyargs) else "POSITIONAL_OR_KEYWORD"
        out.append((p.arg, kind, i >= first_default))
    if a.vararg:
        out.append((a.vararg.arg, "VAR_POSITIONAL", False))
    for p, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((p.arg, "KEYWORD_ONLY", d is not None))
    if a.kwarg:
        out.append((a.kwarg.arg, "VAR_KEYWORD", False))
    return out


def runtime_params(obj, drop_first):
    params = list(inspect.signature(obj).parameters.values())
    if drop_first:
        params = params[1:]
    return [(p.name, p.kind.name, p.default is not inspect.Parameter.empty) for p in params]


def stub_names(body):
    names = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.setdefault(node.name, node)
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = node
    return names


def test_stubs_cover_exactly_the_public_names():
    stubbed = set(stub_names(stub_module().body)) - {"__version__"}
    assert stubbed == set(tunalloc.__all__)


def check_function(node, obj, where, bound=False):
    """bound: obj is bound (a classmethod read from its class), so the
    stub's first parameter (cls) is not in its signature."""
    if is_overload(node):
        return
    assert callable(obj), where
    drop_runtime = False
    if inspect.isclass(obj):
        obj, drop_runtime, bound = obj.__init__, True, True
    want = stub_params(node)[1:] if bound else stub_params(node)
    assert runtime_params(obj, drop_runtime) == want, where


def test_stub_signatures_match_the_code():
    for name, node in stub_names(stub_module().body).items():
        obj = getattr(tunalloc, name)
        if isinstance(node, ast.FunctionDef):
            check_function(node, obj, name)
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef):
                    where = f"{name}.{member.name}"
                    attr = inspect.getattr_static(obj, member.name)
                    if is_property(member):
                        assert isinstance(attr, property), where
                    elif isinstance(attr, (classmethod, staticmethod)):
                        check_function(member, getattr(obj, member.name), where,
                                       bound=isinstance(attr, classmethod))
                    else:
                        check_function(member, attr, where)
                elif isinstance(member, ast.AnnAssign) and not issubclass(obj, tuple):
                    # plain attributes in the stub are data descriptors or
                    # instance fields, never methods
                    attr = inspect.getattr_static(obj, member.target.id, None)
                    assert not callable(attr) or isinstance(attr, property), \
                        f"{name}.{member.target.id}"
                elif isinstance(member, ast.AnnAssign):
                    assert member.target.id in obj._fields, f"{name}.{member.target.id}"


def test_help_lists_only_importable_modules():
    """help(tunalloc) imports nothing that fails: the core library is
    shipped under a name import does not take for a module."""
    import pkgutil
    import importlib
    for mod in pkgutil.iter_modules(tunalloc.__path__):
        if mod.name != "__main__":
            importlib.import_module("tunalloc." + mod.name)
    import pydoc
    text = pydoc.render_doc(tunalloc)
    assert "libtunalloc_core" not in text
