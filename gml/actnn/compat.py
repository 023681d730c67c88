"""The saved-tensor hook calls of older torch that ActNN-era code uses.

torch 1.10 had ``torch._C._autograd._register_saved_tensors_default_hooks``
and ``_reset_saved_tensors_default_hooks``; later versions replaced them
with the public ``torch.autograd.graph.saved_tensors_hooks``. Importing
``gml.actnn`` puts the two old names back (only where torch lacks them),
implemented with the public API, so hooks written for ActNN (such as the
design guide's ``hook_actnn.py``) run unchanged. ``Hook`` is mmengine's
hook base for such mmcv-era hooks: port one by changing its imports to

    from gml.actnn.compat import Hook
    from mmengine.model import is_model_wrapper as is_module_wrapper
    from mmengine.registry import HOOKS
    import gml.actnn as actnn
"""
import torch

_active = []


def register_saved_tensors_default_hooks(pack_hook, unpack_hook) -> None:
    """Install ``pack_hook``/``unpack_hook`` for every later forward."""
    hooks = torch.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook)
    hooks.__enter__()
    _active.append(hooks)


def reset_saved_tensors_default_hooks() -> None:
    """Remove every hook pair installed by the function above."""
    while _active:
        _active.pop().__exit__(None, None, None)


def install() -> None:
    autograd = torch._C._autograd
    if not hasattr(autograd, '_register_saved_tensors_default_hooks'):
        autograd._register_saved_tensors_default_hooks = \
            register_saved_tensors_default_hooks
    if not hasattr(autograd, '_reset_saved_tensors_default_hooks'):
        autograd._reset_saved_tensors_default_hooks = \
            reset_saved_tensors_default_hooks


def _runner_only(method) -> bool:
    import inspect
    params = list(inspect.signature(method).parameters.values())
    return len(params) == 2 and all(
        p.kind == p.POSITIONAL_OR_KEYWORD for p in params)


def _drop_extra_arguments(method):
    import functools

    @functools.wraps(method)
    def call(self, runner, *args, **kwargs):
        return method(self, runner)
    return call


def _hook_base():
    from mmengine.hooks import Hook as EngineHook

    class Hook(EngineHook):
        """mmengine's ``Hook`` that also accepts mmcv-style iteration
        methods (``after_train_iter(self, runner)``): mmengine passes
        ``batch_idx``, ``data_batch`` and ``outputs`` too, which such a
        method does not take. Subclass it instead of mmcv's ``Hook``."""

        def __init_subclass__(cls, **kwargs):
            super().__init_subclass__(**kwargs)
            for name in ('before_train_iter', 'after_train_iter',
                         'before_val_iter', 'after_val_iter',
                         'before_test_iter', 'after_test_iter'):
                method = cls.__dict__.get(name)
                if method is not None and _runner_only(method):
                    setattr(cls, name, _drop_extra_arguments(method))
    return Hook


def __getattr__(name):
    if name == 'Hook':  # built on first use: mmengine is imported then
        globals()['Hook'] = _hook_base()
        return globals()['Hook']
    raise AttributeError(name)
