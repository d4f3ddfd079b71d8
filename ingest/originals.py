"""Where the files people upload are kept (the Knowledge page): a folder under the data folder by
default, an S3 bucket when several app replicas must see the same files (DOCENT_UPLOADS_BACKEND=s3).

Originals are flat, safe names ('leave.pdf'); a name with a folder, '..' or an absolute path is
refused, never cleaned silently (clean user input with ingest.uploads.safe_filename first). The
index reads files from disk, so `local_files` hands the indexer paths: the stored files themselves
for a folder, copies in a temporary folder for a bucket.

>>> import tempfile
>>> store = LocalFolderOriginals(Path(tempfile.mkdtemp()) / "uploads")
>>> store.put("leave.md", b"# Leave")
'leave.md'
>>> store.list(), store.exists("leave.md"), store.get("leave.md")
(['leave.md'], True, b'# Leave')
>>> store.delete("leave.md"), store.delete("leave.md")
(True, False)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from config.errors import DocentError
from ingest.uploads import safe_filename


class UnsafeOriginalName(DocentError, ValueError):
    """A name that is not a plain file name (a folder, '..', an absolute path, odd characters)."""


class OriginalsStoreError(DocentError):
    """The store could not be read or written (a bucket that is missing or refuses these credentials)."""


def check_name(name: str) -> str:
    """`name` when it is a plain, safe file name; UnsafeOriginalName otherwise.

    >>> check_name("leave policy.pdf")
    'leave policy.pdf'
    >>> [is_safe_name(n) for n in ("../x.pdf", "/etc/passwd", "hr/leave.md", ".env", "s3://b/k.md")]
    [False, False, False, False, False]
    """
    try:
        safe = safe_filename(name)
    except ValueError:
        safe = ""
    if not isinstance(name, str) or not safe or safe != name:
        hint = f", e.g. {safe!r}" if safe else ""
        raise UnsafeOriginalName(
            f"{name!r} is not a plain file name (no folders, '..' or odd characters); keep only the file's own name{hint}."
        )
    return name


def is_safe_name(name: str) -> bool:
    """Whether `name` could be an original's name (index sources such as 'hr/leave.md' or s3://... cannot)."""
    try:
        check_name(name)
    except UnsafeOriginalName:
        return False
    return True


@runtime_checkable
class OriginalsStore(Protocol):
    """The uploaded files, by name. `where` says where they are kept, for people (captions, errors)."""

    where: str

    def put(self, name: str, data: bytes) -> str:
        """Keep `data` as `name` (replacing an earlier file of that name); returns the name."""
        ...

    def get(self, name: str) -> bytes:
        """The file's bytes; FileNotFoundError when there is none."""
        ...

    def delete(self, name: str) -> bool:
        """Remove the file; whether there was one."""
        ...

    def list(self) -> list[str]:
        """Every kept name, sorted."""
        ...

    def exists(self, name: str) -> bool: ...


class LocalFolderOriginals:
    """Originals as files in one folder (DATA_DIR/uploads by default).

    >>> LocalFolderOriginals(Path("data/uploads")).where
    'data/uploads'
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.where = self.folder.as_posix()

    def path(self, name: str) -> Path:
        return self.folder / check_name(name)

    def put(self, name: str, data: bytes) -> str:
        path = self.path(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        # write then rename: a replica (or a sync) reading at the same moment never sees half a file
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return name

    def get(self, name: str) -> bytes:
        path = self.path(name)
        if not path.is_file():
            raise FileNotFoundError(f"{name}: no uploaded file of that name in {self.where}.")
        return path.read_bytes()

    def delete(self, name: str) -> bool:
        path = self.path(name)
        if path.is_file():
            path.unlink()
            return True
        return False

    def list(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.is_file() and is_safe_name(p.name))

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()


class S3Originals:
    """Originals as objects under `prefix` in one bucket, so every app replica sees the same files.

    Needs s3:PutObject, s3:GetObject, s3:DeleteObject on `bucket/prefix*` and s3:ListBucket on the
    bucket. The client is passed in (tests hand in moto's); `open_originals` builds one from settings.

    >>> # store = S3Originals("corp-docent", "uploads/", boto3.client("s3"))
    >>> # store.put("leave.pdf", data)  ->  s3://corp-docent/uploads/leave.pdf
    """

    def __init__(self, bucket: str, prefix: str = "uploads/", client: Any = None, settings: Any = None):
        if client is None:
            from ingest.s3 import make_s3_client

            client = make_s3_client(settings)
        self.bucket, self.prefix, self.client = bucket, normalise_prefix(prefix), client
        self.where = f"s3://{bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return self.prefix + check_name(name)

    def put(self, name: str, data: bytes) -> str:
        with self._errors(f"saving {name}", "s3:PutObject"):
            self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)
        return name

    def get(self, name: str) -> bytes:
        key = self.key(name)
        with self._errors(f"reading {name}", "s3:GetObject"):
            if not self._head(key):
                raise FileNotFoundError(f"{name}: no uploaded file of that name in {self.where}.")
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def download(self, name: str, dest: Path) -> Path:
        """Stream the object to `dest` (no whole copy in memory); returns `dest`."""
        key = self.key(name)
        with self._errors(f"reading {name}", "s3:GetObject"):
            if not self._head(key):
                raise FileNotFoundError(f"{name}: no uploaded file of that name in {self.where}.")
            self.client.download_file(self.bucket, key, str(dest))
        return dest

    def delete(self, name: str) -> bool:
        key = self.key(name)
        with self._errors(f"removing {name}", "s3:DeleteObject"):
            if not self._head(key):
                return False
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def list(self) -> list[str]:
        names = []
        with self._errors("listing the uploads", "s3:ListBucket"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(self.prefix) :]
                    if is_safe_name(name):
                        names.append(name)
        return sorted(names)

    def exists(self, name: str) -> bool:
        key = self.key(name)
        with self._errors(f"looking up {name}", "s3:GetObject"):
            return self._head(key)

    def _head(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    @contextmanager
    def _errors(self, what: str, permission: str) -> Iterator[None]:
        """boto/botocore failures as OriginalsStoreError in words an admin can act on."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                reason = "the bucket does not exist: check DOCENT_UPLOADS_S3_BUCKET (and DOCENT_AWS_REGION)"
            elif code in ("AccessDenied", "403", "AllAccessDisabled"):
                reason = f"access denied: grant {permission} on it to the app's role"
            else:
                reason = f"S3 answered {code or 'an error'} ({exc})"
            raise OriginalsStoreError(f"{what} in {self.where}: {reason}.") from None
        except BotoCoreError as exc:
            raise OriginalsStoreError(
                f"{what} in {self.where}: cannot reach S3 ({type(exc).__name__}: {exc}); check the network, "
                "the AWS credentials and DOCENT_S3_ENDPOINT_URL."
            ) from None


def normalise_prefix(prefix: str | None) -> str:
    """'uploads' -> 'uploads/'; '' stays '' (the bucket's root).

    >>> normalise_prefix("docent/uploads"), normalise_prefix("")
    ('docent/uploads/', '')
    """
    prefix = (prefix or "").strip()
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def open_originals(settings: Any, client: Any = None) -> OriginalsStore:
    """The store the settings choose: DATA_DIR/uploads, or DOCENT_UPLOADS_S3_BUCKET/PREFIX (a client built
    from DOCENT_AWS_REGION and DOCENT_S3_ENDPOINT_URL when none is given)."""
    if settings.uploads_backend == "s3":
        return S3Originals(settings.uploads_s3_bucket, settings.uploads_s3_prefix, client=client, settings=settings)
    return LocalFolderOriginals(settings.uploads_dir)


@contextmanager
def local_files(store: OriginalsStore, names: Sequence[str]) -> Iterator[list[Path]]:
    """Paths on this machine holding the named originals, for the indexer: a folder store's own files,
    or copies (same names) in a temporary folder that is removed afterwards."""
    if isinstance(store, LocalFolderOriginals):
        yield [store.path(name) for name in names]
        return
    with tempfile.TemporaryDirectory(prefix="docent-originals-") as tmp:
        paths = []
        for name in names:
            dest = Path(tmp) / check_name(name)
            download = getattr(store, "download", None)
            if callable(download):
                download(name, dest)
            else:
                dest.write_bytes(store.get(name))
            paths.append(dest)
        yield paths
