"""Files are written whole or not at all."""
import pytest

from gml.utils.files import atomic_path


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path):
    target = tmp_path / 'sub' / 'model.pt2'
    with atomic_path(str(target)) as tmp:
        assert tmp.endswith('.partial-model.pt2')  # the suffix is kept
        with open(tmp, 'w') as f:
            f.write('first')
    assert target.read_text() == 'first'
    with pytest.raises(RuntimeError):
        with atomic_path(str(target)) as tmp:
            with open(tmp, 'w') as f:
                f.write('half')
            raise RuntimeError('disk full')
    assert target.read_text() == 'first'
    assert sorted(p.name for p in target.parent.iterdir()) == ['model.pt2']
