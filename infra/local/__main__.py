"""`python -m infra.local` (what `make dev` runs): start the local stack until Ctrl-C or SIGTERM."""

from infra.local.stack import main

raise SystemExit(main())
