"""The ``tracker`` command itself (its subcommands have their own test modules)."""

from importlib.metadata import version

from click.testing import CliRunner

from tasks.cli import main


def test_version_is_the_installed_packages() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"stats-tracker, version {version('stats-tracker')}\n"
