"""`trialgw-admin`, the operator CLI (`trialgw.admin.cli`): runs the functions' adapters and logic from a terminal."""
