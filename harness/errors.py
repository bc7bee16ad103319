"""The exceptions that carry a verdict class (see DESIGN.md, "Verdicts").

ConformanceFailure is an AssertionError so that pytest and Allure report it as a test
failure (FAIL, or WARN for a SHOULD); every other HarnessError is a harness or environment
problem, which Allure shows as "broken" (ERROR).
"""

from __future__ import annotations


class HarnessError(Exception):
    """Harness or environment problem: the verdict is ERROR, never FAIL."""


class SetupError(HarnessError):
    """The machine cannot run the harness (not root, missing tool); one line for the user."""


class TopologyError(HarnessError):
    """A namespace, link or sysctl could not be created or set."""


class TargetError(HarnessError):
    """The target process died, hung, or broke the control protocol."""


class Unsupported(Exception):
    """The target lacks an operation or feature the test needs: the verdict is UNSUPPORTED."""


class ConformanceFailure(AssertionError):
    """The target did something the requirement under test forbids."""
