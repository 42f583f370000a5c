"""The embedded local stack: `python -m infra.local` runs the whole system on 127.0.0.1 with no AWS account.

moto serves DynamoDB, SQS, SES and SNS in-process; an HTTP server turns requests into API Gateway REST
proxy events for the real handlers (routes from `infra.topology`), serves `web/`, and adds the
`/_local/...` helpers. Importing this package does nothing heavy: everything starts in `stack.main()`.
"""
