"""`newsflow log-config SERVICE`: a dictConfig that makes granian's own lines ours."""

from __future__ import annotations

import json
import logging
import logging.config
import subprocess
import sys


def test_granians_own_lines_become_json_lines_of_the_service(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "newsflow", "log-config", "feed"],
        capture_output=True, text=True, check=True, env={"LOG_FORMAT": "json", "PATH": ""},
    )  # fmt: skip
    config = json.loads(out.stdout)
    logging.config.dictConfig(config)
    granian = logging.getLogger("_granian")
    handler = granian.handlers[0]
    record = granian.makeRecord("_granian", logging.INFO, "", 0, "Spawning worker-1", None, None)
    line = json.loads(handler.format(record))
    assert (line["service"], line["event"], line["level"]) == ("feed", "Spawning worker-1", "info")
