"""What the export tools write is whole or absent, even when the writing
fails halfway."""
import pytest
import torch

from gml.apis.export import export_wrapped_model
from gml.utils.files import write_json, write_yaml


def _half_save(obj, path, *args, **kwargs):
    """torch.save that dies after the first bytes (a full disk, Ctrl-C)."""
    with open(path, 'wb') as f:
        f.write(b'PK\x03\x04 half a checkpoint')
    raise OSError('No space left on device')


def test_an_export_failing_midway_leaves_no_partial_file(tmp_path,
                                                         monkeypatch):
    config = tmp_path / 'qat.py'
    config.write_text("algorithm = dict(type='gml.QAT')\n")
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'model.fc.weight': torch.ones(2, 2)}},
               checkpoint)
    out = tmp_path / 'out' / 'plain.pth'
    monkeypatch.setattr(torch, 'save', _half_save)
    with pytest.raises(OSError, match='No space left'):
        export_wrapped_model(str(config), str(checkpoint), str(out))
    assert list(out.parent.iterdir()) == []  # neither plain.pth nor a part
    monkeypatch.undo()
    export_wrapped_model(str(config), str(checkpoint), str(out))
    before = out.read_bytes()
    monkeypatch.setattr(torch, 'save', _half_save)
    with pytest.raises(OSError):
        export_wrapped_model(str(config), str(checkpoint), str(out))
    assert out.read_bytes() == before  # the earlier export is untouched
    assert [p.name for p in out.parent.iterdir()] == ['plain.pth']
    state = torch.load(out, weights_only=False)
    assert list(state['state_dict']) == ['fc.weight']


def test_json_and_yaml_summaries_are_written_whole(tmp_path):
    path = tmp_path / 'archs.json'
    write_json(str(path), dict(target=1.5))
    # json writes as it goes: the second key has been started when the
    # value turns out not to be serialisable
    with pytest.raises(TypeError):
        write_json(str(path), dict(target=2.5, subnet=object()))
    assert path.read_text() == '{\n "target": 1.5\n}'
    write_yaml(str(tmp_path / 'subnet.yaml'), dict(b=1, a=[2, 3]))
    assert (tmp_path / 'subnet.yaml').read_text() == 'b: 1\na:\n- 2\n- 3\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'archs.json', 'subnet.yaml']
