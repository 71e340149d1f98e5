"""MovieLens-100k: 100,000 ratings (1-5 stars) of 1,682 movies by 943 users, 1997-98.

:func:`load_movielens` returns the same canonical tables whichever copy it finds, trying in
order:

1. ``path``, if given: a folder or a zip holding either the GroupLens files
   (``u.data``, ``u.item``, ``u.user``) or RecBole's atomic files
   (``ml-100k.inter``, ``ml-100k.item``, ``ml-100k.user``), e.g. the GroupLens
   ``ml-100k.zip`` or a ``recbole-1.2.1`` wheel;
2. the project cache, where every successful load leaves the canonical tables;
3. the GroupLens archive, downloaded;
4. the copy inside the ``recbole==1.2.1`` wheel, fetched with ``pip download`` and read as a zip
   (recbole is never imported or installed).

RecBole's files are checked against their sha256. The GroupLens files are checked through the
content they share with RecBole's copy (every rating and every user), because GroupLens
publishes no sha256 of its own; the movie tables differ only in layout (titles carry the year,
genres are 0/1 flags) and are parsed into the same form.
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from qanneal_llm.storage import CorruptFileError, cache_root, load_verified, save_verified

__all__ = ["GENRES", "DatasetUnavailableError", "MovieLens", "load_movielens"]

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_MEMBER_DIR = "recbole/dataset_example/ml-100k/"
RECBOLE_SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}
# sha256 of the canonical ratings and users (see _content_sha256), identical in both copies.
CONTENT_SHA256 = "eaf053f3464d4b35b7512d26d698e77f0770174cbcc39e7c335b3364d27d9568"
GROUPLENS_FILES = ("u.data", "u.item", "u.user")
# The order of the 0/1 genre flags in GroupLens' u.item.
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_TITLE_TAG = re.compile(r"\s*\((?P<tag>\d{4}|V)\)\s*$")
_CACHE_NAME = "ml-100k.qllm"
_CACHE_FORMAT = 1
_DOWNLOAD_TIMEOUT_S = 10


class DatasetUnavailableError(RuntimeError):
    """No source could provide the dataset; the message lists each source and why it failed."""


@dataclass(frozen=True)
class MovieLens:
    """The canonical MovieLens-100k tables.

    Attributes
    ----------
    ratings : DataFrame
        ``user_id`` (int64), ``item_id`` (int64), ``rating`` (float32, 1-5),
        ``timestamp`` (int64, unix seconds), in the order of the source file.
    items : DataFrame
        Indexed by ``item_id``: ``title`` (str, without the year), ``year`` (nullable Int64;
        missing for the one movie without a date), ``genres`` (tuple of str).
    users : DataFrame
        Indexed by ``user_id``: ``age`` (int64), ``gender`` ("M"/"F"), ``occupation`` (str),
        ``zip_code`` (str; some are Canadian postcodes).
    source : str
        Where the tables came from.
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    source: str

    def __repr__(self) -> str:
        return (
            f"MovieLens({len(self.ratings)} ratings, {len(self.items)} items,"
            f" {len(self.users)} users, source={self.source!r})"
        )


def load_movielens(path=None, *, cache_dir=None, allow_download=True) -> MovieLens:
    """Load MovieLens-100k from the first source that works (see the module docstring).

    Parameters
    ----------
    path : path-like, optional
        A folder or zip with the raw files. When given, it is the only source tried, so a
        wrong path is reported rather than silently replaced by another copy.
    cache_dir : path-like, optional
        Where the canonical tables are cached; defaults to ``datasets/`` under
        :func:`qanneal_llm.storage.cache_root`.
    allow_download : bool
        Try GroupLens and the RecBole wheel when no local copy exists.

    Raises
    ------
    DatasetUnavailableError
        When no source works; the message names every source tried and why it failed.
    """
    cache_path = Path(cache_dir or cache_root() / "datasets").expanduser() / _CACHE_NAME
    if path is not None:
        try:
            data = _read_raw(_archive_reader(Path(path).expanduser()), str(path))
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise DatasetUnavailableError(
                f"could not load MovieLens-100k from {path}: {exc}"
            ) from exc
        _store(cache_path, data)
        return data

    failures = []
    try:
        return _load_cache(cache_path)
    except FileNotFoundError:
        failures.append(f"project cache {cache_path}: not there yet")
    except CorruptFileError as exc:
        warnings.warn(f"{exc}; fetching MovieLens-100k again", RuntimeWarning, stacklevel=2)
        failures.append(f"project cache {cache_path}: {exc.reason}")

    if not allow_download:
        failures.append("GroupLens archive and RecBole wheel: skipped (allow_download=False)")
    else:
        for name, fetch in (
            (f"GroupLens archive {GROUPLENS_URL}", _from_grouplens),
            (f"`pip download {RECBOLE_REQUIREMENT}`", _from_recbole_wheel),
        ):
            try:
                data = fetch()
            except (OSError, ValueError, zipfile.BadZipFile, subprocess.SubprocessError) as exc:
                failures.append(f"{name}: {exc}")
                continue
            _store(cache_path, data)
            return data

    tried = "\n".join(f"  - {f}" for f in failures)
    raise DatasetUnavailableError(
        f"MovieLens-100k is not available from any source:\n{tried}\nDownload "
        f"{GROUPLENS_URL}, unzip it and pass load_movielens(path=<the ml-100k folder>)."
    )


def _archive_reader(path: Path):
    """A function name -> bytes (or None) over a folder or zip, found at any depth."""
    if path.is_dir():
        found = {}
        for file in path.rglob("*"):
            if file.is_file():
                found.setdefault(file.name, file)
        return lambda name: found[name].read_bytes() if name in found else None
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    with zipfile.ZipFile(path) as archive:
        members = {}
        for member in archive.namelist():
            members.setdefault(member.rsplit("/", 1)[-1], member)
        wanted = [*RECBOLE_SHA256, *GROUPLENS_FILES]
        blobs = {name: archive.read(members[name]) for name in wanted if name in members}
    return blobs.get


def _read_raw(read, source: str) -> MovieLens:
    if all(read(name) is not None for name in RECBOLE_SHA256):
        blobs = {name: read(name) for name in RECBOLE_SHA256}
        for name, blob in blobs.items():
            digest = hashlib.sha256(blob).hexdigest()
            if digest != RECBOLE_SHA256[name]:
                raise ValueError(
                    f"{name} has sha256 {digest}, expected {RECBOLE_SHA256[name]}: the file is"
                    " damaged or a different version; fetch a fresh copy"
                )
        ratings, items, users = _parse_recbole(*blobs.values())
    elif all(read(name) is not None for name in GROUPLENS_FILES):
        ratings, items, users = _parse_grouplens(*(read(name) for name in GROUPLENS_FILES))
    else:
        raise FileNotFoundError(
            f"{source} holds neither {', '.join(GROUPLENS_FILES)} nor {', '.join(RECBOLE_SHA256)}"
        )
    digest = _content_sha256(ratings, users)
    if digest != CONTENT_SHA256:
        raise ValueError(
            f"the ratings and users in {source} differ from MovieLens-100k's (content sha256"
            f" {digest}, expected {CONTENT_SHA256}); the files are damaged or edited"
        )
    return MovieLens(ratings, items, users, source)


def _parse_recbole(inter: bytes, item: bytes, user: bytes):
    def table(blob):
        frame = pd.read_csv(io.BytesIO(blob), sep="\t", dtype=str, keep_default_na=False)
        frame.columns = [c.split(":", 1)[0] for c in frame.columns]
        return frame

    r = table(inter)
    ratings = _ratings_frame(r["user_id"], r["item_id"], r["rating"], r["timestamp"])
    it = table(item)
    # RecBole spells the title of the one undated movie (item 267) "unkonwn", and for item 1412
    # ("... (1995) (V)" at GroupLens) keeps the year in the title and "V" as the year.
    split = [_split_title(t) for t in it["movie_title"].replace("unkonwn", "unknown")]
    titles = [title for title, _ in split]
    years = pd.to_numeric(it["release_year"], errors="coerce")
    years = years.fillna(pd.Series([year for _, year in split], dtype="float64"))
    genres = [tuple(g.split()) for g in it["class"]]
    items = _items_frame(it["item_id"], titles, years, genres)
    u = table(user)
    users = _users_frame(u["user_id"], u["age"], u["gender"], u["occupation"], u["zip_code"])
    return ratings, items, users


def _parse_grouplens(data: bytes, item: bytes, user: bytes):
    r = pd.read_csv(io.BytesIO(data), sep="\t", header=None, dtype=str)
    ratings = _ratings_frame(r[0], r[1], r[2], r[3])
    it = pd.read_csv(
        io.BytesIO(item), sep="|", header=None, dtype=str, encoding="latin-1",
        keep_default_na=False, quoting=3,
    )  # fmt: skip
    titles = [_split_title(t)[0] for t in it[1]]
    years = pd.to_numeric(it[2].str[-4:], errors="coerce")
    flags = it.iloc[:, 5 : 5 + len(GENRES)].to_numpy() == "1"
    genres = [tuple(g for g, on in zip(GENRES, row, strict=True) if on) for row in flags]
    items = _items_frame(it[0], titles, years, genres)
    u = pd.read_csv(io.BytesIO(user), sep="|", header=None, dtype=str, keep_default_na=False)
    users = _users_frame(u[0], u[1], u[2], u[3], u[4])
    return ratings, items, users


def _split_title(raw: str) -> tuple[str, float]:
    """Split trailing "(1995)" and "(V)" (video release) tags off a title; return the year."""
    title, year = raw.strip(), np.nan
    while match := _TITLE_TAG.search(title):
        tag = match["tag"]
        if tag.isdigit() and np.isnan(year):
            year = float(tag)
        title = title[: match.start()].rstrip()
    return title, year


def _ratings_frame(user_id, item_id, rating, timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": pd.to_numeric(user_id).astype(np.int64),
            "item_id": pd.to_numeric(item_id).astype(np.int64),
            "rating": pd.to_numeric(rating).astype(np.float32),
            "timestamp": pd.to_numeric(timestamp).astype(np.int64),
        }
    ).reset_index(drop=True)


def _items_frame(item_id, titles, years, genres) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "title": list(titles),
            "year": pd.array(list(years), dtype="Int64"),
            "genres": list(genres),
        },
        index=pd.Index(pd.to_numeric(item_id).astype(np.int64), name="item_id"),
    )


def _users_frame(user_id, age, gender, occupation, zip_code) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.asarray(pd.to_numeric(age), dtype=np.int64),
            "gender": list(gender),
            "occupation": list(occupation),
            "zip_code": list(zip_code),
        },
        index=pd.Index(pd.to_numeric(user_id).astype(np.int64), name="user_id"),
    )


def _content_sha256(ratings: pd.DataFrame, users: pd.DataFrame) -> str:
    """A digest of every rating and user that does not depend on file layout or row order."""
    r = ratings.sort_values(["user_id", "item_id", "timestamp"], kind="stable")
    h = hashlib.sha256()
    for column, dtype in (("user_id", "<i8"), ("item_id", "<i8"), ("timestamp", "<i8")):
        h.update(r[column].to_numpy().astype(dtype).tobytes())
    h.update(r["rating"].to_numpy().astype("<f4").tobytes())
    u = users.sort_index()
    for row in u.itertuples():
        h.update(
            f"{row.Index}\t{row.age}\t{row.gender}\t{row.occupation}\t{row.zip_code}\n".encode()
        )
    return h.hexdigest()


def _from_grouplens() -> MovieLens:
    try:
        with urllib.request.urlopen(GROUPLENS_URL, timeout=_DOWNLOAD_TIMEOUT_S) as response:
            blob = response.read()
    except (urllib.error.URLError, TimeoutError) as exc:
        raise OSError(f"download failed ({getattr(exc, 'reason', exc)})") from exc
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "ml-100k.zip"
        archive.write_bytes(blob)
        return _read_raw(_archive_reader(archive), GROUPLENS_URL)


def _fetch_recbole_wheel(directory: Path) -> Path:
    """Download the recbole wheel (not its dependencies) into ``directory`` with pip."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--retries", "1", "--timeout", "15",
        "--dest", str(directory), RECBOLE_REQUIREMENT,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise OSError(f"pip download exited with {done.returncode}: {last}")
    wheels = sorted(directory.glob("recbole-*.whl"))
    if not wheels:
        raise OSError(f"pip download left no recbole wheel in {directory}")
    return wheels[0]


def _from_recbole_wheel() -> MovieLens:
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _fetch_recbole_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            blobs = {name: archive.read(RECBOLE_MEMBER_DIR + name) for name in RECBOLE_SHA256}
    return _read_raw(blobs.get, f"{RECBOLE_REQUIREMENT} wheel ({RECBOLE_MEMBER_DIR})")


def _store(cache_path: Path, data: MovieLens) -> None:
    items = data.items
    save_verified(
        cache_path,
        {
            **{f"ratings.{c}": data.ratings[c].to_numpy() for c in data.ratings.columns},
            "items.item_id": items.index.to_numpy(),
            "items.title": np.asarray(items["title"].tolist(), dtype=str),
            "items.year": items["year"].fillna(-1).to_numpy(dtype=np.int64),
            "items.genres": np.asarray(["|".join(g) for g in items["genres"]], dtype=str),
            "users.user_id": data.users.index.to_numpy(),
            **{f"users.{c}": data.users[c].to_numpy(dtype=str) for c in ("gender", "occupation")},
            "users.age": data.users["age"].to_numpy(),
            "users.zip_code": data.users["zip_code"].to_numpy(dtype=str),
        },
        {"format": _CACHE_FORMAT, "source": data.source},
    )


def _load_cache(cache_path: Path) -> MovieLens:
    arrays, meta = load_verified(cache_path)
    if meta.get("format") != _CACHE_FORMAT:
        raise CorruptFileError(cache_path, f"cache format {meta.get('format')!r} is not current")
    ratings = _ratings_frame(
        arrays["ratings.user_id"],
        arrays["ratings.item_id"],
        arrays["ratings.rating"],
        arrays["ratings.timestamp"],
    )
    years = np.where(arrays["items.year"] < 0, np.nan, arrays["items.year"])
    genres = [tuple(g.split("|")) if g else () for g in arrays["items.genres"].tolist()]
    items = _items_frame(arrays["items.item_id"], arrays["items.title"].tolist(), years, genres)
    users = _users_frame(
        arrays["users.user_id"],
        arrays["users.age"],
        arrays["users.gender"].tolist(),
        arrays["users.occupation"].tolist(),
        arrays["users.zip_code"].tolist(),
    )
    return MovieLens(ratings, items, users, f"cache {cache_path} (from {meta['source']})")
