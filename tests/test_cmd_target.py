"""The cmd: target: any stack on a TAP device. The reference launched as an external
command passes; misbehaving stacks get a clear verdict and the run goes on."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.core import topology
from tests.processes import descendants_seen, namespaces_of, namespaces_of_live_runs

pytestmark = pytest.mark.needs_root
REPO = Path(__file__).resolve().parent.parent
# One suite file keeps the counts below stable as other suites grow; every test in it needs
# the control protocol (listen, accept), so a stack without it is UNSUPPORTED throughout.
SUITES = REPO / "suites" / "tcp" / "test_acknowledgement.py"
N = 12  # tests in that file
REF = (
    f"cmd:{sys.executable} -m harness.hosts.refstack --tap {{tap}} --ip {{ip}}/{{prefix}} "
    f"--mac {{mac}} --neighbor {{tester_ip}}={{tester_mac}}"
)


def run_suites(pytester, target, *extra):
    with descendants_seen() as seen:
        result = pytester.runpytest_subprocess(
            str(SUITES), f"--target={target}", "-p", "no:cacheprovider", "-rsE", *extra, timeout=300
        )
    assert seen, "the run was not seen"
    assert namespaces_of(seen) == [], "the run left namespaces behind"
    return result


def test_reference_as_cmd_target_over_stdin_passes(pytester):
    run_suites(pytester, REF).assert_outcomes(passed=N)


def test_reference_as_cmd_target_over_ctl_socket_passes(pytester):
    run_suites(pytester, REF + " --ctl {ctl}").assert_outcomes(passed=N)


def test_template_stack_is_unsupported_not_passed(pytester):
    script = REPO / "examples" / "stack_template.py"
    template = f"cmd:{sys.executable} {script} --tap {{tap}} --ip {{ip}}/{{prefix}} --mac {{mac}}"
    result = run_suites(pytester, template)
    result.assert_outcomes(skipped=N)
    result.stdout.fnmatch_lines(["*UNSUPPORTED: target cmd-* does not implement 'listen'*"])


def test_stack_that_exits_at_once_is_an_error_with_its_status(pytester):
    result = run_suites(pytester, f"cmd:{sys.executable} -c 'import sys; sys.exit(3)'")
    result.assert_outcomes(errors=N)
    result.stdout.fnmatch_lines(["*closed its control channel during 'hello' (exit status 3)*"])


def test_stack_that_prints_garbage_is_a_protocol_error(pytester):
    result = run_suites(pytester, "cmd:yes this is not json")
    result.assert_outcomes(errors=N)
    result.stdout.fnmatch_lines(["*answered 'hello' with a line that is not JSON*"])


HELLO_WITHOUT_TAP = (
    "import json, sys\n"
    "reply = {'ok': True, 'name': 'off-wire', 'ops': ['hello', 'quit']}\n"
    "for line in sys.stdin:\n"
    "    print(json.dumps(reply), flush=True)\n"
)


def test_stack_that_answers_without_its_tap_device_is_an_error(pytester, tmp_path):
    """It would lose every frame of the test: an ERROR that says why, not a deviation."""
    script = tmp_path / "off_wire.py"
    script.write_text(HELLO_WITHOUT_TAP)
    # Named: a cmd- name carries a hash of the command line, which a -k on "100" could match.
    result = run_suites(
        pytester,
        f"offwire=cmd:{sys.executable} {script}",
        "-k",
        "seq_plus_length and offwire-100",
        "--start-timeout=2",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*answered 'hello' but its TAP device nc-tap does not pass frames*operational state*"]
    )


def test_stack_that_never_answers_times_out(pytester):
    result = run_suites(
        pytester, "cmd:sleep 600", "-k", "seq_plus_length and 100", "--start-timeout=2"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*did not answer 'hello' within its start-up limit of 2 s*"])


def test_stack_that_starts_slowly_is_waited_for_and_its_start_up_time_reported(pytester):
    """A stack that takes 6 s to come up (address probing, say) is within the default limit;
    the report's target environment gives the measured start-up time."""
    slow = f'cmd:sh -c \'sleep 6; exec "$0" "$@"\' {REF[4:]}'
    results = pytester.path / "allure"
    result = run_suites(pytester, slow, "-k", "seq_plus_length and 100", f"--alluredir={results}")
    result.assert_outcomes(passed=1)
    texts = [p.read_text(errors="replace") for p in results.glob("*-attachment.txt")]
    environments = [text for text in texts if "start-up time" in text]
    assert environments and "start-up time = 6." in environments[0]


CRASH_ON_FIRST_ACCEPT = """
import os, sys
from harness.hosts import refstack
marker = sys.argv.pop(1)
if not os.path.exists(marker):
    open(marker, "w").close()
    refstack.RefStack.op_accept = lambda self, request: os._exit(7)
refstack.main()
"""


def test_stack_that_crashes_mid_test_is_restarted_for_the_next(pytester, tmp_path):
    script = tmp_path / "crashy.py"
    script.write_text(CRASH_ON_FIRST_ACCEPT)
    target = (
        f"cmd:{sys.executable} {script} {tmp_path / 'crashed-once'} --tap {{tap}} "
        f"--ip {{ip}}/{{prefix}} --mac {{mac}} --neighbor {{tester_ip}}={{tester_mac}}"
    )
    result = run_suites(pytester, target, "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == N - 1
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 1
    result.stdout.fnmatch_lines(["*closed its control channel during 'accept' (exit status 7)*"])


def stacks_outside_live_runs() -> set[str]:
    """Stack processes of this checkout that live in no namespace of a running run."""
    inside = {pid for name in namespaces_of_live_runs() for pid in topology._pids_in(name)}
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {
        line
        for line in out.splitlines()
        if ("harness.hosts.refstack" in line or "stack_template.py" in line)
        and (str(REPO) in line or sys.executable in line)
        and int(line.split()[0]) not in inside
    }


def test_no_target_process_survives_a_run():
    """No stack started by the runs above is still alive. (A stack of a run still going, this
    session's own beds or another worker's, lives in that run's namespaces and is not an
    orphan; one that is being started or stopped may be outside them for a moment, so an
    orphan is one still outside a second later.)"""
    first = stacks_outside_live_runs()
    if first:
        time.sleep(1)
    assert first & stacks_outside_live_runs() == set()


def test_allowed_behaviour_the_profile_did_not_predict_is_info_not_fail(pytester):
    """The oracle expects Linux's quick ACK (--profile linux); a stack that delays its ACK by
    200 ms, which the RFCs allow, passes with an INFO note, not a failure."""
    delaying = REF + " --profile rfc"
    result = run_suites(
        pytester,
        delaying,
        "--profile=linux",
        "-k",
        "data_is_acknowledged_with_seq_plus_length and 100",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*allowed behaviour the profile did not predict (INFO)*",
            "*the linux profile expected it at once; it came after 2??.* ms, which the RFCs allow*",
        ]
    )
