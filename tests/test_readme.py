"""The README's first two commands are the ones CI runs: install + main job, install + tests."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "readme_commands.py"


def readme_command(kind: str, readme: Path | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(SCRIPT), kind] + ([str(readme)] if readme else [])
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def test_the_readme_opens_with_install_and_main_job_then_install_and_tests():
    main, tests = readme_command("main"), readme_command("test")
    assert main.returncode == 0 and tests.returncode == 0, main.stderr + tests.stderr
    assert "pip install -e" in main.stdout and "python -m experiments.sweep" in main.stdout
    assert "pip install -e" in tests.stdout and "python -m pytest" in tests.stdout


def test_ci_runs_the_readmes_test_command_itself():
    ci = (ROOT / ".ci" / "run").read_text()
    assert '"$(python3 .ci/readme_commands.py test)"' in ci and "$test_command" in ci


def test_a_readme_whose_commands_are_swapped_or_missing_fails(tmp_path):
    lines = (ROOT / "README.md").read_text().split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    commands = [line for line in lines if line.strip() and not line.startswith("#")]
    swapped = tmp_path / "swapped.md"
    swapped.write_text("# x\n\n```bash\n" + "\n".join(reversed(commands)) + "\n```\n")
    proc = readme_command("test", swapped)
    assert proc.returncode == 1 and "main command lacks 'python -m experiments.sweep'" in proc.stderr
    none = tmp_path / "none.md"
    none.write_text("# x\n\nno commands\n")
    assert readme_command("test", none).returncode == 1
