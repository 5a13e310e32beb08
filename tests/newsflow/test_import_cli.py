"""`newsflow import` as a user runs it: in-process ingest path, clear messages, exit codes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import SEED

pytestmark = pytest.mark.e2e


def run_import(stack, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, **stack.settings.to_env()}
    return subprocess.run(
        [sys.executable, "-m", "newsflow", "import", *map(str, args)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_in_process_import_goes_through_the_outbox_to_publication(stack, tmp_path):
    src = SEED / "scimall-2018-01-10-quake-lecture.txt"
    text = src.read_text(encoding="utf-8").replace("art_17_80321", f"art_17_{os.getpid()}")
    (tmp_path / src.name).write_text(text, encoding="utf-8")
    shutil.copytree(SEED / "images", tmp_path / "images")
    result = run_import(stack, tmp_path / src.name)
    assert result.returncode == 0, result.stdout + result.stderr
    article_id = re.search(r"(?:created|unchanged) ([0-9a-f]{32})", result.stdout).group(1)
    info = stack.wait_status(article_id, "published")
    assert info["images"] == {"img1": {"status": "ok"}}


def test_a_missing_image_is_a_warning_and_the_article_still_publishes(stack, tmp_path):
    src = SEED / "scimall-2017-12-06-youth-contest.txt"
    text = src.read_text(encoding="utf-8").replace("t20171206_36702", f"t2017_{os.getpid()}")
    (tmp_path / src.name).write_text(text, encoding="utf-8")
    (tmp_path / "pics").mkdir()
    shutil.copy(SEED / "images" / "20171206093015_a1b2c3.jpg", tmp_path / "pics")
    result = run_import(stack, tmp_path / src.name, "--images", tmp_path / "pics")
    assert result.returncode == 0, result.stderr
    assert "warning: image 20171206093016_d4e5f6.jpg not found" in result.stdout
    article_id = re.search(r"created ([0-9a-f]{32})", result.stdout).group(1)
    info = stack.wait_status(article_id, "published")
    assert list(info["images"]) == ["img1"]
    assert "img2" not in info["article"]["bodies"][0]["value"]


def test_a_malformed_file_names_the_file_and_line_and_fails(stack, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("标题\n\n科技工作者之家 2017-13-40\n\n  正文。\n", encoding="utf-8")
    result = run_import(stack, bad)
    assert result.returncode == 1
    assert f"{bad}:3:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_file_that_is_not_utf8_is_a_clear_message(stack, tmp_path):
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("标题\n\n科技工作者之家 2017-12-04\n".encode("gbk"))
    result = run_import(stack, bad)
    assert result.returncode == 1
    assert f"{bad}:1: not UTF-8" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_a_clear_message(stack, tmp_path):
    result = run_import(stack, tmp_path / "nope.txt")
    assert result.returncode == 1
    assert "cannot read" in result.stdout
    assert "Traceback" not in result.stderr
