"""`trialgw-admin`, the operator CLI (`trialgw_admin.cli`): runs the functions' stores, logic and views from a terminal.

It lives outside the Lambda layer (`layers/core/python`), so no function ships it; it imports `trialgw` like a
function does and nothing from `functions/` or `infra/` (the import contract in pyproject.toml checks both).
"""
