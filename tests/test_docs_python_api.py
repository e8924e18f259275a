"""Every ```python block of docs/python-api.md runs, in order, in one namespace."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def test_python_api_doc_examples_run(tmp_path, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 7
    namespace = {"tmp": tmp_path, "__name__": "__main__"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name} block {i + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Did you mean: wgan-gp" in out
    assert "python:__main__.LinearCritic" in out
    assert "disc.norm=layer: loss 'python:" in out  # a loss instance picked D's norm
    assert (tmp_path / "grid.png").exists()
    assert namespace["trainer"].step == 3
