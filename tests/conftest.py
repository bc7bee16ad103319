"""Shared helpers for the project's own tests (not the conformance suites)."""

import os

import pytest

pytest_plugins = ["pytester"]


def pytest_addoption(parser):
    parser.addoption(
        "--long",
        action="store_true",
        help="also run the long tests (the fuzzers at a million steps each)",
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "needs_root" in item.keywords and os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="needs root for network namespaces"))
    if config.getoption("long") or "long" in (config.getoption("markexpr") or ""):
        return
    short = [item for item in items if "long" not in item.keywords]
    if len(short) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if "long" in i.keywords])
        items[:] = short


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_root: creates network namespaces")
    config.addinivalue_line("markers", "long: minutes, not seconds: run with --long or -m long")
