"""PMLB downloads against a local HTTP server on 127.0.0.1 that serves pmlb's layout.

No test here touches the internet: `$LEANTUNE_PMLB_URL` points the loader at the local server.
"""

import gzip
import shutil
import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from leantune.datasets import _pmlb, load_pmlb
from leantune.errors import DatasetError


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, requests, **kwargs):
        self.requests = requests
        super().__init__(*args, **kwargs)

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def pmlb_server(tmp_path, shared_pmlb, monkeypatch):
    """Serves 529_pollen under its name and diabetes only as `_deprecated_diabetes`."""
    root = tmp_path / "served"
    for stored, source in [
        ("529_pollen", shared_pmlb / "529_pollen" / "529_pollen.tsv.gz"),
        ("_deprecated_diabetes", shared_pmlb / "diabetes" / "diabetes.tsv.gz"),
    ]:
        (root / stored).mkdir(parents=True)
        shutil.copy(source, root / stored / f"{stored}.tsv.gz")
    requests: list[str] = []
    handler = partial(_Handler, directory=str(root), requests=requests)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("LEANTUNE_PMLB_URL", url)
    yield SimpleNamespace(root=root, url=url, requests=requests)
    server.shutdown()
    server.server_close()


def test_a_missing_set_is_downloaded_into_the_cache_then_read_from_it(pmlb_server, tmp_path):
    cache = tmp_path / "cache"
    data = load_pmlb("529_pollen", cache)
    assert data.X.shape == (3848, 4) and data.task == "regression"
    cached = cache / "529_pollen" / "529_pollen.tsv.gz"
    assert data.provenance["location"] == str(cached) and cached.is_file()
    assert pmlb_server.requests == ["/529_pollen/529_pollen.tsv.gz"]
    assert [p.name for p in cached.parent.iterdir()] == ["529_pollen.tsv.gz"]  # no leftovers

    again = load_pmlb("529_pollen", cache)
    assert len(pmlb_server.requests) == 1  # the second load reads the cache
    np.testing.assert_array_equal(again.X, data.X)


def test_diabetes_is_downloaded_under_its_upstream_name(pmlb_server, tmp_path):
    cache = tmp_path / "cache"
    data = load_pmlb("diabetes", cache)
    assert data.X.shape == (768, 8) and data.task == "classification" and data.n_classes == 2
    assert data.provenance["stored_as"] == "_deprecated_diabetes"
    assert pmlb_server.requests == [
        "/diabetes/diabetes.tsv.gz",  # 404 upstream now
        "/_deprecated_diabetes/_deprecated_diabetes.tsv.gz",
    ]
    assert sorted(p.name for p in cache.iterdir()) == ["_deprecated_diabetes"]
    load_pmlb("diabetes", cache)
    assert len(pmlb_server.requests) == 2  # found in the cache under the upstream name


def test_a_set_the_server_lacks_gets_the_message_with_the_status(pmlb_server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as error:
        load_pmlb("mnist", cache)
    message = str(error.value)
    assert f"{pmlb_server.url}/mnist/mnist.tsv.gz (HTTP 404" in message
    assert str(cache / "mnist" / "mnist.tsv.gz") in message
    assert "place the PMLB file" in message
    assert not cache.exists()


def test_a_reply_that_is_not_gzip_is_never_cached(pmlb_server, tmp_path):
    (pmlb_server.root / "kddcup").mkdir()
    (pmlb_server.root / "kddcup" / "kddcup.tsv.gz").write_text("<html>log in first</html>")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match="not a gzip file"):
        load_pmlb("kddcup", cache)
    assert not (cache / "kddcup" / "kddcup.tsv.gz").exists()


@pytest.mark.timeout(60)
def test_a_server_that_never_answers_fails_at_the_timeout_not_a_hang(tmp_path, monkeypatch):
    # Connections complete in the kernel's backlog, but nothing ever replies.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        monkeypatch.setenv("LEANTUNE_PMLB_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(_pmlb, "CONNECT_TIMEOUT_S", 0.5)
        with pytest.raises(DatasetError, match="timed out") as error:
            load_pmlb("kddcup", tmp_path / "cache")
        assert "could not be downloaded" in str(error.value)
    finally:
        silent.close()


def test_a_corrupt_cached_file_is_a_clear_error(tmp_path):
    (tmp_path / "529_pollen").mkdir()
    (tmp_path / "529_pollen" / "529_pollen.tsv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match="could not read .* as a PMLB file .* Delete it"):
        load_pmlb("529_pollen", tmp_path)


def test_rows_with_nan_are_dropped_and_counted(tmp_path):
    frame = pd.DataFrame(
        {"a": [1.0, np.nan, 3.0, 4.0, 5.0], "b": range(5), "target": [0, 1] * 2 + [1]}
    )
    frame.loc[3, "target"] = np.nan
    (tmp_path / "holes").mkdir()
    with gzip.open(tmp_path / "holes" / "holes.tsv.gz", "wt") as out:
        frame.to_csv(out, sep="\t", index=False)
    data = load_pmlb("holes", tmp_path, task="classification")
    assert data.n_rows == 3
    assert data.provenance["dropped_rows_with_nan"] == 2
    assert "2 rows with NaN dropped on load" in data.describe()
