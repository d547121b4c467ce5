"""The ``obs-tests`` command line.

Exit codes: 0 all green, 1 a validation failed, 2 a usage or input error (bad option, bad contract,
unreachable server), 128 + the signal when interrupted (SIGINT 130, SIGTERM 143, SIGHUP 129: whatever
the run had started is stopped first). Errors print one line, ``ErrorType: message``, never a
traceback. Every option can also be set with an ``OBS_*`` environment variable (shown in ``--help``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from obs_tests import __version__
from obs_tests.commands.check import check
from obs_tests.commands.health import health
from obs_tests.commands.init import init
from obs_tests.commands.lint import lint
from obs_tests.commands.scenario import scenario
from obs_tests.commands.serve import serve
from obs_tests.commands.stack import down, status, up
from obs_tests.core.interrupts import exit_status, forget_signals, interrupted_line, signals_as_interrupts
from obs_tests.errors import ObsTestsError

__all__ = ["cli", "main"]


class ObsGroup(click.Group):
    """A click group that reports errors as one line and maps them to exit codes."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        forget_signals()
        try:
            with signals_as_interrupts():
                return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else "", err=False)
            sys.exit(2)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "obs-tests"
            click.echo(f"UsageError: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt) as exc:
            # click turns a KeyboardInterrupt into Abort (caused by it); either way the command's own
            # finally blocks have run: what it started is stopped, its faults reverted
            code = exit_status(exc)
            click.echo(interrupted_line(code), err=True)
            sys.exit(code)
        except ObsTestsError as exc:
            click.echo(f"{type(exc).__name__}: {exc}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)


@click.group(
    "obs-tests",
    cls=ObsGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, prog_name="obs-tests")
def cli() -> None:
    """Prove that your monitoring works: targets scraped, counters exact, alerts firing and clearing,
    notifications routed, dashboards showing data — live.

    \b
    Exit codes: 0 all green · 1 a validation failed · 2 usage/input error (bad option, bad contract,
    unreachable server) · 130 SIGINT (Ctrl-C), 143 SIGTERM: interrupted, what it started is stopped.
    """


cli.add_command(init)
cli.add_command(up)
cli.add_command(down)
cli.add_command(status)
cli.add_command(check)
cli.add_command(lint)
cli.add_command(health)
cli.add_command(scenario)
cli.add_command(serve)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    result = cli.main(args=list(argv) if argv is not None else None, prog_name="obs-tests")
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
