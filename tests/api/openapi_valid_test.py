#!/usr/bin/env python3
"""The merchant API's OpenAPI document is valid OpenAPI 3 (issue 20, item 8).

Validated by openapi-spec-validator (PyPI; installed by scripts/deps.sh into
.cache/pypi/openapi), which checks the document against the OpenAPI 3.0 meta-schema and
resolves every $ref. That the document matches the live server is
tests/api/http_test.cc (TheOpenApiDocumentDescribesExactlyTheMountedRoutes).

Usage: openapi_valid_test.py SOURCE_DIR
"""
import os
import sys


def main() -> int:
    source = sys.argv[1]
    lib = os.path.join(source, ".cache", "pypi", "openapi")
    sys.path.insert(0, lib)
    try:
        from openapi_spec_validator import OpenAPIV30SpecValidator
        from openapi_spec_validator.readers import read_from_filename
    except ImportError as e:
        print(f"FAIL: openapi-spec-validator is not in {lib} ({e}); run scripts/deps.sh")
        return 1
    path = os.path.join(source, "schemas", "merchant-api.openapi.yaml")
    spec, _ = read_from_filename(path)
    if not str(spec.get("openapi", "")).startswith("3.0"):
        print(f"FAIL: {path}: openapi is {spec.get('openapi')!r}, expected 3.0.x")
        return 1
    errors = list(OpenAPIV30SpecValidator(spec).iter_errors())
    for e in errors:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        print(f"FAIL: {path}: at {where}: {e.message[:300]}")
    if errors:
        return 1
    print(f"ok: {path} is valid OpenAPI {spec['openapi']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
