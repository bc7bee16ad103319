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
