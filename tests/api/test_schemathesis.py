"""Property-based calls generated from the served OpenAPI document (schemathesis): no 5xx, every status,
content type and body as documented.

Through schemathesis' Python API inside one ordinary test, because the suite disables its pytest plugin
(`-p no:schemathesis` in pyproject: the plugin's imports cost every pytest process a minute). Bounded: a
few derandomized examples per operation and no example database (the suite's per-test timeout is the
hang guard)."""

from __future__ import annotations

import pytest

EXAMPLES = 3


def test_every_operation_keeps_its_documented_contract(env):
    # Imported here, not at collection: schemathesis and hypothesis cost every xdist worker ~10 s of CPU.
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    schema = schemathesis.openapi.from_asgi("/openapi.json", env.app())  # local mode: every route reachable
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/ask", "/v1/feedback", "/v1/documents", "/v1/export", "/readyz"}
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,  # slow machines: examples are bounded by count, never by time
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(checks=checks)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
