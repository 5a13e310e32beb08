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


def test_an_unknown_log_format_is_a_clear_message():
    with pytest.raises(SystemExit, match="LOG_FORMAT='xml'"):
        Settings.from_env({"LOG_FORMAT": "xml"})
