"""What an operator sees when a command fails: one line on stderr and an exit code."""

from __future__ import annotations

from trialgw.errors import StoreError

PROG = "trialgw-admin"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

NO_CREDENTIALS = (
    "no AWS credentials found: configure them (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY), or use --local for the stack of `make dev`"
)


class AdminError(Exception):
    """A failure the operator can act on: printed as one line, exit code `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def error_detail(error: Exception) -> str:
    """`Code: message` of an AWS error answer; botocore's own text for anything else."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "") or type(error).__name__
        message = details.get("Message", "")
        return f"{code}: {message}" if message else code
    return str(error) or type(error).__name__


def store_error(error: StoreError, where: str) -> str:
    """The adapter's `could not <action>: <error type>`, with what AWS said in place of the type."""
    from botocore.exceptions import NoCredentialsError

    cause = error.__cause__
    if isinstance(cause, NoCredentialsError):
        return NO_CREDENTIALS
    text = str(error)
    if isinstance(cause, Exception):
        text = f"{text.removesuffix(f': {type(cause).__name__}')}: {error_detail(cause)}"
    return f"{where}: {text}"
