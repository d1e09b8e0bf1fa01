#!/usr/bin/python3
"""Validates LAVA job files with LAVA's own schema (lava_common.schemas.validate, strict:
what lava-server runs on submit). Usage: validate-jobs.py JOB.yaml... (exit 1 if any is
invalid, or none was given)."""
import sys

import voluptuous
import yaml
from lava_common.schemas import validate

rc = 0 if len(sys.argv) > 1 else 1
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    try:
        validate(data, strict=True, extra_context_variables=[])
        print(f"{path}: valid")
    except voluptuous.Invalid as exc:
        rc = 1
        print(f"{path}: INVALID: {exc.msg} @ {exc.path}")
sys.exit(rc)
