"""Shared helpers for the project's own tests (not the conformance suites). Tests marked
long (the fuzzers at a million steps) run only with --long, as the suites' long scenarios
do (harness/long.py)."""

import os

import pytest

pytest_plugins = ["pytester"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "needs_root" in item.keywords and os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="needs root for network namespaces"))


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_root: creates network namespaces")
    if hasattr(config, "workerinput"):
        # A run that a test starts inside a parallel run of these tests takes `auto` as one
        # process (xdist's variable; -n/--workers given explicitly still count): the cores
        # are already shared by this run's workers, and every nested worker would import
        # everything and make beds of its own.
        os.environ.setdefault("PYTEST_XDIST_AUTO_NUM_WORKERS", "0")
