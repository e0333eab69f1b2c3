"""Usage errors (unknown command or option, a value of the wrong type, a missing argument): one
line on stderr naming the command's --help, exit code 2; help itself is unchanged."""

import pytest

from molmtl.cli import main


@pytest.mark.parametrize("argv, words", [
    (["nonsense"], "No such command 'nonsense'. (see molmtl --help)"),
    (["train"], "Missing option '--out'"),
    (["train", "--out", "x", "--ema", "abc"], "Invalid value for '--ema'"),
    (["predict", "C", "--bogus"], "No such option: --bogus"),
    (["dft", "run"], "Missing argument 'molecule'. (see molmtl dft run --help)"),
    (["evaluate", "m.pt", "--split-part"], "requires an argument"),
])
def test_usage_errors_are_one_line_and_exit_2(argv, words, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and words in err, err
    assert "Traceback" not in captured.out + captured.err


def test_help_and_version_still_work(capsys):
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("molmtl ")
    assert main(["train", "--help"]) == 0 and "--ema" in capsys.readouterr().out
    assert main([]) == 2 and "Usage" in capsys.readouterr().out  # a bare command group shows its help
