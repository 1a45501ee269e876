"""lecture_code.glue: myst-nb's glue when it is installed, a no-op without it (Colab, Binder)."""
import builtins
import importlib

import pytest

import lecture_code.glue as glue_module


def test_glue_uses_myst_nb_when_installed(monkeypatch):
    calls = []
    monkeypatch.setattr(glue_module, "_myst_glue", lambda *a, **k: calls.append((a, k)))
    glue_module.glue("best_lr", 0.1)
    assert calls == [(("best_lr", 0.1), {"display": False})]
    with pytest.raises(ValueError, match="name must be a Python identifier, got 'a b'"):
        glue_module.glue("a b", 1)


def test_glue_is_a_no_op_without_myst_nb(monkeypatch):
    real_import = builtins.__import__

    def no_myst(name, *args, **kwargs):
        if name.startswith("myst_nb"):
            raise ImportError("No module named 'myst_nb'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_myst)
    try:
        reloaded = importlib.reload(glue_module)
        assert reloaded._myst_glue is None
        assert reloaded.glue("x", 3) is None
    finally:
        monkeypatch.undo()
        importlib.reload(glue_module)
    assert glue_module._myst_glue is not None
