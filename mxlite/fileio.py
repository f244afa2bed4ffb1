"""Writing and reading users' files: every save replaces its file atomically, every load
reads arrays only and names the file when it cannot.

A save writes a temporary file in the target's folder, flushes and fsyncs it, then
``os.replace``s the target, so a full disk, a size limit or a KeyboardInterrupt midway
leaves the previous file byte for byte as it was and no temporary file behind.
"""
import contextlib
import hashlib
import io
import os
import secrets
import ssl
import tempfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib

import numpy as _np

from .base import MXNetError, bfloat16

__all__ = ["atomic_write", "write_npz", "write_npy", "read_npz", "read_arrays", "npz_bytes",
           "read_npz_bytes", "check_sha1", "download"]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with members / an empty one
_NPY_MAGIC = b"\x93NUMPY"


@contextlib.contextmanager
def atomic_write(path):
    """Yield a binary file whose contents replace ``path`` only when the block succeeds."""
    given = os.fspath(path)
    path = os.path.realpath(given)  # through a symlink to its target, as an in-place write
    folder = os.path.dirname(path)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as e:
        raise type(e)(e.errno, f"cannot save '{given}': cannot create a file in its folder "
                               f"'{folder}' ({e.strerror})") from None
    try:
        with open(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):  # keep the permissions an in-place write would have kept
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    """Make the rename durable where the OS can open a folder (POSIX; not Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems do not fsync folders; the file itself is synced
        pass
    finally:
        os.close(fd)


def write_npz(path, arrays):
    """Save host ``arrays`` (name -> numpy array) as an uncompressed ``.npz`` at ``path``."""
    with atomic_write(path) as f:
        _np.savez(f, **arrays)


def write_npy(path, array):
    """Save one host array as ``.npy`` at exactly ``path`` (numpy.save would add '.npy')."""
    with atomic_write(path) as f:
        _np.save(f, array, allow_pickle=False)


def npz_bytes(arrays):
    """The bytes ``write_npz`` would write."""
    buf = io.BytesIO()
    _np.savez(buf, **arrays)
    return buf.getvalue()


def read_npz(path, what, expected):
    """All arrays of the ``.npz`` at ``path``, read in full with ``allow_pickle=False``.

    ``what`` names the caller (``"load_parameters"``) and ``expected`` the writer of such
    files; a file that is no archive, is truncated or holds pickled objects raises
    MXNetError naming the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        return _read(f, f"{what}: '{path}'", expected)


def read_arrays(path, what, expected):
    """The array of an ``.npy`` or the dict of arrays of an ``.npz`` at ``path`` (told
    apart by their first bytes), with ``read_npz``'s checks and messages."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        return _read(f, f"{what}: '{path}'", expected, npy=True)


def read_npz_bytes(data, what, expected):
    """``read_npz`` for ``.npz`` bytes in memory."""
    return _read(io.BytesIO(data), what, expected)


def _read(f, source, expected, npy=False):
    """An .npz's dict of arrays (or, with ``npy``, an .npy's array), told apart by the first
    bytes; every failure is an MXNetError naming ``source`` and what to do."""
    head = f.read(len(_NPY_MAGIC))
    f.seek(0)
    is_npy = npy and head == _NPY_MAGIC
    if not is_npy and head[:4] not in _ZIP_MAGIC:
        also = ", an .npy with b'\\x93NUMPY'" if npy else ""
        raise MXNetError(
            f"{source} is not an .npz archive (it starts with {head[:4]!r}, an .npz starts "
            f"with b'PK'{also}); expected a file written by {expected}")
    try:
        if is_npy:
            return _bfloat16_restored(_np.load(f, allow_pickle=False))
        with _np.load(f, allow_pickle=False) as npz:
            return {key: _bfloat16_restored(npz[key]) for key in npz.files}
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise MXNetError(
                f"{source} holds pickled Python objects, which can run code when loaded; mxlite "
                f"reads arrays only. Expected a file written by {expected}") from None
        raise MXNetError(f"{source} is truncated or corrupt ({e}); save it again or use an "
                         "earlier copy") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError) as e:
        raise MXNetError(f"{source} is truncated or corrupt ({type(e).__name__}: {e}); save it "
                         "again or use an earlier copy") from None


def _bfloat16_restored(a):
    """numpy writes ml_dtypes' bfloat16 as raw 2-byte records ('|V2'), the only such dtype
    mxlite saves: read them back as bfloat16."""
    if a.dtype.kind == "V" and a.dtype.itemsize == 2 and a.dtype.fields is None:
        return a.view(bfloat16)
    return a


# -- fetching files (gluon.utils.download, test_utils.download) ---------------------------
def check_sha1(filename, sha1_hash):
    """Whether ``filename``'s SHA-1 equals ``sha1_hash`` (a prefix of the hex digest is
    enough, as MXNet's model store uses 8-character prefixes)."""
    sha1 = hashlib.sha1()
    with open(filename, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha1.update(chunk)
    digest = sha1.hexdigest()
    return digest.startswith(sha1_hash.lower()) if len(sha1_hash) < 40 else digest == sha1_hash


def _fetch_chunks(url, verify_ssl):
    """Yield the body of ``url`` in 1 MiB chunks.

    ``http(s)://`` goes through ``requests`` when it is installed, as MXNet's ``download``
    does, so proxies, sessions and mocks of ``requests.get`` apply alike; ``file://`` (which
    ``requests`` cannot open) and machines without ``requests`` use ``urllib``."""
    try:
        import requests
    except ImportError:
        requests = None
    if requests is not None and url.lower().startswith(("http://", "https://")):
        response = requests.get(url, stream=True, verify=verify_ssl, timeout=60)
        if response.status_code != 200:
            raise OSError(f"the server answered HTTP {response.status_code}")
        yield from (chunk for chunk in response.iter_content(chunk_size=1 << 20) if chunk)
        return
    context = ssl._create_unverified_context() if not verify_ssl else None  # as asked
    with urllib.request.urlopen(url, timeout=60, context=context) as response:
        yield from iter(lambda: response.read(1 << 20), b"")


def download(url, path=None, overwrite=False, sha1_hash=None, retries=5, verify_ssl=True):
    """Fetch ``url`` (``http(s)://`` or ``file://``) to ``path`` and return the file name.

    An existing file is kept unless ``overwrite`` or its SHA-1 differs from ``sha1_hash``.
    The file appears only when complete (written beside the target, then renamed), so an
    interrupted or offline download never leaves a partial file under the final name."""
    if retries < 1:
        raise ValueError(f"download: retries must be at least 1, got {retries}")
    name = url.rstrip("/").split("/")[-1]
    if path is None:
        fname = name
    elif os.path.isdir(os.path.expanduser(path)) or path.endswith(os.sep):
        fname = os.path.join(os.path.expanduser(path), name)
    else:
        fname = os.path.expanduser(path)
    if not verify_ssl:
        warnings.warn("Unverified HTTPS request is being made (verify_ssl=False). Adding "
                      "certificate verification is strongly advised.")
    if os.path.exists(fname) and not overwrite and (sha1_hash is None
                                                    or check_sha1(fname, sha1_hash)):
        return fname
    folder = os.path.dirname(os.path.abspath(fname))
    os.makedirs(folder, exist_ok=True)
    for attempt in range(retries):
        fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(fname)}.")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _fetch_chunks(url, verify_ssl):
                    out.write(chunk)
            if sha1_hash is not None and not check_sha1(partial, sha1_hash):
                raise UserWarning(f"download: {url} does not match its SHA-1 {sha1_hash}; the "
                                  f"file may be corrupted or changed upstream")
            os.replace(partial, fname)
            return fname
        except (urllib.error.URLError, OSError) as err:
            os.unlink(partial)
            if attempt + 1 == retries:
                raise RuntimeError(f"download: could not fetch {url} after {retries} "
                                   f"attempt(s): {err}. If this machine is offline, copy "
                                   f"the file to {fname} yourself") from err
            time.sleep(min(2 ** attempt, 10) * 0.1)
        except BaseException:
            os.unlink(partial)
            raise
    return fname
