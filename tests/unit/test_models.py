"""The S3-only, parse-once botocore loader must change nothing a client does, only its cost."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config

from s3tui.engine.remote.fast.models import CachedJSONLoader, S3Loader, make_loader

REGIONS = ["us-east-1", "us-west-2", "eu-central-1", "us-gov-west-1", "cn-north-1", "ap-south-2"]


def _client(loader: Any, region: str, endpoint_url: str | None = None, **s3: Any) -> Any:
    session = botocore.session.Session()
    if loader is not None:
        session.register_component("data_loader", loader)
    return session.create_client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(s3=s3 or None, signature_version="s3v4"),
    )


def _presigned(client: Any) -> str:
    url: str = client.generate_presigned_url(
        "put_object", Params={"Bucket": "my-bucket", "Key": "a/b c.txt"}, ExpiresIn=60
    )
    return url.split("?")[0]


@pytest.mark.parametrize("region", REGIONS)
def test_clients_resolve_the_same_urls_as_stock_botocore(region: str, tmp_path: Path) -> None:
    ours = S3Loader(file_loader=CachedJSONLoader(tmp_path / "c"))
    for kwargs in ({}, {"addressing_style": "path"}, {"use_dualstack_endpoint": True}):
        stock = _client(None, region, **kwargs)
        mine = _client(ours, region, **kwargs)
        assert _presigned(mine) == _presigned(stock), (region, kwargs)
        assert mine.meta.endpoint_url == stock.meta.endpoint_url
    custom = "https://minio.example.com:9000"
    assert _presigned(_client(ours, region, custom)) == _presigned(_client(None, region, custom))


def test_cached_data_equals_botocore_parse_and_is_private(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stock = botocore.loaders.Loader()
    first = S3Loader(file_loader=CachedJSONLoader(cache))
    model = first.load_service_model("s3", "service-2")
    assert model == stock.load_service_model("s3", "service-2")
    assert first.list_available_services("service-2") == ["s3"]
    entries = list(cache.iterdir())
    assert entries, "nothing was cached"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(e.stat().st_mode) == 0o600 for e in entries)
    # A second loader reads the cache, and gets the same data.
    again = S3Loader(file_loader=CachedJSONLoader(cache))
    assert again.load_service_model("s3", "service-2") == model


def test_endpoints_keep_every_partition_and_only_s3(tmp_path: Path) -> None:
    stock = botocore.loaders.Loader().load_data("endpoints")
    ours = S3Loader(file_loader=CachedJSONLoader(tmp_path)).load_data("endpoints")
    assert [p["partition"] for p in ours["partitions"]] == [
        p["partition"] for p in stock["partitions"]
    ]
    for mine, theirs in zip(ours["partitions"], stock["partitions"], strict=True):
        assert set(mine["services"]) == ({"s3"} & set(theirs["services"]))
        assert mine.get("services", {}).get("s3") == theirs["services"].get("s3")
        assert {k: v for k, v in mine.items() if k != "services"} == {
            k: v for k, v in theirs.items() if k != "services"
        }


def _model_file(root: Path, payload: str) -> Path:
    d = root / "s3" / "2006-03-01"
    d.mkdir(parents=True, exist_ok=True)
    f = d / "service-2.json"
    f.write_text(payload)
    return f


def test_a_changed_file_is_reparsed_and_a_corrupt_entry_ignored(tmp_path: Path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    f = _model_file(data, '{"v": 1}')
    path = str(f)[: -len(".json")]
    assert CachedJSONLoader(cache).load_file(path) == {"v": 1}
    f.write_text('{"v": 22}')  # another size and mtime
    os.utime(f, ns=(1, 1))
    assert CachedJSONLoader(cache).load_file(path) == {"v": 22}
    (entry,) = cache.iterdir()  # overwritten, not added to
    entry.write_bytes(entry.read_bytes()[:-3])  # a torn entry
    assert CachedJSONLoader(cache).load_file(path) == {"v": 22}


def test_an_unusable_cache_dir_costs_only_time(tmp_path: Path) -> None:
    data = tmp_path / "data"
    f = _model_file(data, '{"v": 3}')
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    assert CachedJSONLoader(blocker / "cache").load_file(str(f)[: -len(".json")]) == {"v": 3}
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # others could write here: never trusted
    assert CachedJSONLoader(shared).load_file(str(f)[: -len(".json")]) == {"v": 3}
    assert list(shared.iterdir()) == []


def test_aws_data_path_comes_first_as_in_botocore(tmp_path: Path) -> None:
    _model_file(tmp_path / "models", '{"metadata": {"x": 1}}')
    loader = make_loader(str(tmp_path / "models"))
    assert loader.search_paths[0] == str(tmp_path / "models")
    assert loader.load_data("s3/2006-03-01/service-2") == {"metadata": {"x": 1}}
    assert make_loader(None).search_paths == botocore.loaders.Loader().search_paths
