"""Writing files whole or not at all."""
import contextlib
import os


@contextlib.contextmanager
def atomic_path(path: str):
    """Yield a temporary path next to ``path`` (same suffix) to write to;
    it replaces ``path`` when the block ends and is removed when the block
    fails, so readers never see half a file. Creates the folder."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, '.partial-' + os.path.basename(path))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path: str, data, indent: int = 1) -> None:
    """Write ``data`` as JSON to ``path``, whole or not at all."""
    import json
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        json.dump(data, f, indent=indent)


def write_yaml(path: str, data) -> None:
    """Write ``data`` as YAML (keys in their order) to ``path``, whole or
    not at all."""
    import yaml
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        yaml.safe_dump(data, f, sort_keys=False)
