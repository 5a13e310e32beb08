from pathlib import Path

import pytest

from shared.settings import Settings


def test_defaults_run_on_a_laptop(tmp_path):
    s = Settings.from_env({"NEWSFLOW_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path}/newsflow.db"
    assert s.redis_url == f"redis+socket://{tmp_path}/redis.sock"
    assert s.embedded_redis
    assert s.public_base_url == "http://127.0.0.1:8002"


def test_real_servers_from_the_environment():
    s = Settings.from_env({"REDIS_URL": "redis://r:6379/0", "DATABASE_URL": "postgresql://p/db"})
    assert not s.embedded_redis
    assert s.database_url == "postgresql://p/db"


def test_settings_survive_the_trip_to_a_child_process(tmp_path):
    s = Settings.from_env({"NEWSFLOW_DATA_DIR": str(tmp_path), "FETCH_ALLOW_HOSTS": "a, B"})
    assert Settings.from_env(s.to_env()) == s


def test_a_bad_number_is_a_clear_message():
    with pytest.raises(SystemExit, match="FEED_PORT='x' is not a whole number"):
        Settings.from_env({"FEED_PORT": "x"})


def test_data_dir_is_absolute():
    assert Settings.from_env({"NEWSFLOW_DATA_DIR": "rel"}).data_dir == Path("rel").resolve()


def test_artifacts_default_to_the_data_dir(tmp_path):
    s = Settings.from_env({"NEWSFLOW_DATA_DIR": str(tmp_path)})
    assert (s.artifacts_dir, s.artifacts_remote) == (tmp_path / "artifacts", False)


@pytest.mark.parametrize("value", ["{dir}", "file://{dir}"])
def test_artifact_store_may_name_a_directory(tmp_path, value):
    s = Settings.from_env({"ARTIFACT_STORE": value.format(dir=tmp_path / "elsewhere")})
    assert (s.artifacts_dir, s.artifacts_remote) == (tmp_path / "elsewhere", False)


def test_artifact_store_may_name_an_s3_bucket_and_prefix():
    s = Settings.from_env({"ARTIFACT_STORE": "s3://news/site/", "S3_ENDPOINT_URL": "http://m:9000"})
    assert s.artifacts_remote
    assert (s.artifact_store, s.s3_endpoint_url) == ("s3://news/site", "http://m:9000")


def test_the_s3_settings_survive_the_trip_to_a_child_process():
    s = Settings.from_env({"ARTIFACT_STORE": "s3://news/site", "S3_ENDPOINT_URL": "http://m:9000",
                           "ARTIFACT_REVALIDATE_SECONDS": "2.5"})  # fmt: skip
    assert Settings.from_env(s.to_env()) == s


@pytest.mark.parametrize(
    ("value", "message"),
    [("s3://", "names no bucket"), ("gs://bucket/x", "use a directory, file:///path or s3://")],
)
def test_a_bad_artifact_store_is_a_clear_message(value, message):
    with pytest.raises(SystemExit, match=message):
        Settings.from_env({"ARTIFACT_STORE": value})


def test_credentials_are_not_settings():
    # boto3 reads them from the environment itself; the settings never hold (or print) them.
    s = Settings.from_env({"ARTIFACT_STORE": "s3://b", "AWS_SECRET_ACCESS_KEY": "hush"})
    assert "hush" not in repr(s) and "hush" not in str(s.to_env())
