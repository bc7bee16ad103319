"""The CI recipe in examples/ci stays true: both CI files call the same steps of
conformance.sh, in order, and those steps run end to end here: netconform is cloned and set
up from this repository, then the host suites run against the stack template, gated by its
baseline (exit 0), and fail once an entry is taken out of it (exit 1)."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from harness.core import baseline

REPO = Path(__file__).resolve().parent.parent
CI = REPO / "examples" / "ci"
STEPS = ["install", "run"]
pytestmark = pytest.mark.needs_root


def steps_of(path: Path) -> list[str]:
    return re.findall(r"conformance\.sh\"? (\w+)", path.read_text())


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_each_ci_file_calls_install_then_run(name):
    text = (CI / name).read_text()
    assert steps_of(CI / name) == STEPS
    for variable in ("NETCONFORM_REPO", "NETCONFORM_HOME", "STACK_CMD", "STACK_BASELINE"):
        assert f"{variable}:" in text, f"{name} does not set {variable}"
    assert "reports/" in text, f"{name} does not keep the report"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`conformance.sh install`, exactly as the CI files call it, from this repository."""
    home = tmp_path_factory.mktemp("ci") / "netconform"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{REPO}", str(home)], check=True)
    env = {**os.environ, "NETCONFORM_HOME": str(home)}
    step = subprocess.run(
        [str(home / "examples/ci/conformance.sh"), "install"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert step.returncode == 0, step.stdout[-2000:] + step.stderr[-2000:]
    return home


def run_step(
    home: Path, workdir: Path, stack_baseline: Path, extra: str = ""
) -> subprocess.CompletedProcess:
    template = home / "examples" / "stack_template.py"
    env = {
        **os.environ,
        "NETCONFORM_HOME": str(home),
        "STACK_NAME": "template",
        "STACK_CMD": f"python3 {template} --tap {{tap}} --ip {{ip}}/{{prefix}} --mac {{mac}}",
        "STACK_BASELINE": str(stack_baseline),
        "NETCONFORM_ARGS": extra,
    }
    return subprocess.run(
        [str(home / "examples/ci/conformance.sh"), "run"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
    )


def test_the_recipe_runs_end_to_end_and_gates_on_new_deviations(installed, tmp_path):
    known = CI / "template-baseline.toml"
    result = run_step(installed, tmp_path, known)
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"netconform: \d+ passed, 0 new deviations, \d+ known, 0 fixed", result.stdout)
    assert (tmp_path / "reports" / "allure-report" / "index.html").exists()
    assert (tmp_path / "reports" / "junit.xml").exists()

    entries = baseline.load([known])
    dropped = next(e for e in entries if e.verdict == "FAIL")  # a new UNSUPPORTED would pass
    kept = [e for e in entries if e != dropped]
    trimmed = tmp_path / "trimmed.toml"
    baseline.write(trimmed, kept)
    name = dropped.test.split("::")[1].partition("[")[0]
    # Only the tests the run makes are judged: the one whose entry went is enough.
    result = run_step(installed, tmp_path, trimmed, f"-- -k {name}")
    assert result.returncode == 1, result.stdout[-3000:]
    assert any(line.startswith("new: ") and name in line for line in result.stdout.splitlines())
