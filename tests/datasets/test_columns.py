"""The columnar cache: a PMLB file parsed once, mapped afterwards, parsed again when replaced."""

import os
import shutil

import numpy as np

from leantune.datasets import _columns, load_pmlb


def test_a_pmlb_set_is_parsed_once_then_read_from_its_columns(shared_pmlb, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANTUNE_COLUMNS_CACHE", str(tmp_path / "columns"))
    cache = tmp_path / "pmlb"
    shutil.copytree(shared_pmlb / "diabetes", cache / "diabetes")
    parsed = load_pmlb("diabetes", cache_dir=cache)
    (entry,) = (tmp_path / "columns").iterdir()
    mapped = load_pmlb("diabetes", cache_dir=cache)
    assert np.array_equal(parsed.X, mapped.X) and np.array_equal(parsed.y, mapped.y)
    assert parsed.feature_names == mapped.feature_names
    assert not mapped.X.flags.writeable  # mapped from the cache, never written
    # A replaced file (new size or time) is parsed again, into an entry that replaces the old.
    source = cache / "diabetes" / "diabetes.tsv.gz"
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    assert _columns.read(source) is None
    load_pmlb("diabetes", cache_dir=cache)
    (replaced,) = (tmp_path / "columns").iterdir()
    assert replaced != entry and _columns.read(source) is not None


def test_a_file_of_the_same_name_elsewhere_keeps_its_own_entry(shared_pmlb, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANTUNE_COLUMNS_CACHE", str(tmp_path / "columns"))
    for place in ("one", "two"):
        shutil.copytree(shared_pmlb / "diabetes", tmp_path / place / "diabetes")
        source = tmp_path / place / "diabetes" / "diabetes.tsv.gz"
        os.utime(source, ns=(10**18, 10**18 + len(place) + ord(place[0])))
        load_pmlb("diabetes", cache_dir=tmp_path / place)
    assert len(list((tmp_path / "columns").iterdir())) == 2
    for place in ("one", "two"):
        assert _columns.read(tmp_path / place / "diabetes" / "diabetes.tsv.gz") is not None


def test_an_unwritable_cache_costs_nothing_but_the_parse(shared_pmlb, tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("LEANTUNE_COLUMNS_CACHE", str(blocked / "columns"))
    data = load_pmlb("diabetes", cache_dir=shared_pmlb)
    assert data.X.shape[0] == 768
