from s3tui.engine.config import ObjectOptions, UploadConfig
from s3tui.sizes import MiB


def test_default_spool_limit_follows_part_size_and_concurrency() -> None:
    cfg = UploadConfig()
    assert cfg.spool_limit(8 * MiB, 8) == 128 * MiB
    assert cfg.spool_limit(16 * MiB, 8) == 256 * MiB  # parts grew after 1,000 parts
    assert cfg.spool_limit(8 * MiB, 2) == 32 * MiB


def test_explicit_spool_limit_wins() -> None:
    assert UploadConfig(max_spool=50 * MiB).spool_limit(16 * MiB, 8) == 50 * MiB


def test_object_options_map_to_s3_arguments() -> None:
    opts = ObjectOptions(
        content_type="application/gzip",
        sse="aws:kms",
        sse_kms_key_id="k",
        storage_class="STANDARD_IA",
        acl="private",
        metadata={"a": "b"},
    )
    assert opts.to_s3_args() == {
        "ContentType": "application/gzip",
        "ACL": "private",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "k",
        "StorageClass": "STANDARD_IA",
        "Metadata": {"a": "b"},
    }
    assert ObjectOptions().to_s3_args() == {}
