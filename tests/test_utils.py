"""seq2gen.utils: atomic writes (file and folder), YAML with located errors, human sizes."""
from __future__ import annotations

import os

import pytest

from seq2gen.errors import InputError
from seq2gen.utils.io import atomic_dir, atomic_path, atomic_write, read_yaml, replace_dir
from seq2gen.utils.units import parse_size


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]
    with atomic_write(target) as f:
        f.write("new\n")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_bytes() == b"new\n" and target.stat().st_mode & 0o777 == 0o666 & ~umask   # not mkstemp's 0600
    with atomic_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01" and sorted(os.listdir(tmp_path)) == ["a.txt", "b.bin"]


def test_atomic_dir_replaces_the_folder_only_when_complete(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "config.json").write_text("old")
    with pytest.raises(FileNotFoundError):
        with atomic_dir(target) as tmp:
            tmp.mkdir()
            (tmp / "config.json").write_text("new")
            raise FileNotFoundError("an export file is missing")
    assert os.listdir(tmp_path) == ["model"] and (target / "config.json").read_text() == "old"
    with atomic_dir(target) as tmp:
        assert not tmp.exists() and tmp.parent == tmp_path     # the writer creates it (save_pretrained does)
        tmp.mkdir()
        (tmp / "weights").write_text("w")
    assert os.listdir(tmp_path) == ["model"] and os.listdir(target) == ["weights"]
    other = tmp_path / "other"
    other.mkdir()
    replace_dir(other, tmp_path / "fresh")                        # no old folder: a plain rename
    assert sorted(os.listdir(tmp_path)) == ["fresh", "model"]


def test_read_yaml_names_the_line(tmp_path):
    good = tmp_path / "ok.yaml"
    good.write_text("a: 1\nb: [2, 3]\n")
    assert read_yaml(good) == {"a": 1, "b": [2, 3]}
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\nb: [2, 3\nc: 4\n")
    with pytest.raises(InputError, match=r"bad\.yaml:\d: invalid YAML") as exc:
        read_yaml(bad)
    assert exc.value.line in (3, 4)


@pytest.mark.parametrize("text, bp", [("500kb", 500_000), ("2Mb", 2_000_000), ("1_000", 1000), ("1.5k", 1500),
                                      ("40,000,000", 40_000_000), ("3G", 3 * 10**9), (" 77 ", 77), (4_000, 4000),
                                      ("300bp", 300)])
def test_parse_size(text, bp):
    assert parse_size(text) == bp


def test_parse_size_rejects_words():
    with pytest.raises(InputError, match="cannot read size 'lots'.*500kb"):
        parse_size("lots")


def test_overrides_at_any_depth():
    from seq2gen.utils.overrides import parse_overrides, set_dotted
    items = parse_overrides(["max_steps=100", "rates.expr=2", "a.b.c=[1, 2]", "x=null", "s=cpu_zero0"])
    assert items == [("max_steps", 100), ("rates.expr", 2), ("a.b.c", [1, 2]), ("x", None), ("s", "cpu_zero0")]
    data = {"rates": {"promoter": 1.0}, "s": "old"}
    for k, v in items:
        set_dotted(data, k, v)
    assert data == {"rates": {"promoter": 1.0, "expr": 2}, "s": "cpu_zero0", "max_steps": 100,
                    "a": {"b": {"c": [1, 2]}}, "x": None}
    assert parse_overrides({"k.l": 1}) == [("k.l", 1)] and parse_overrides(None) == []
    with pytest.raises(InputError, match="'s' is not a mapping"):
        set_dotted(data, "s.deeper", 1)
    with pytest.raises(InputError, match="is not KEY=VALUE"):
        parse_overrides(["max_steps"])
    with pytest.raises(InputError, match="not YAML"):
        parse_overrides(["labels={0: [}"])
