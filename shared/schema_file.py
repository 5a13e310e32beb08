"""The JSON Schema file generated from the pydantic model (the single source of truth)."""

from __future__ import annotations

import json
from pathlib import Path

from shared.schema import ArticleIn

SCHEMA_PATH = Path(__file__).with_name("article.schema.json")
SCHEMA_ID = "https://newsflow.example/schema/article.schema.json"


def render() -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID}
    schema |= ArticleIn.model_json_schema()
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
