#!/usr/bin/env bash
# The conformance job of a project that builds its own TCP/IP stack, as its CI runs it
# (github-actions.yml and gitlab-ci.yml beside this file call exactly these steps):
#
#   conformance.sh install   netconform and everything it needs (Debian 12, as root)
#   conformance.sh run       the suites against the stack; fails only on what is new
#
# Settings, from the environment:
#   NETCONFORM_REPO    where to clone netconform from (install)
#   NETCONFORM_HOME    where netconform lives (default: $HOME/netconform)
#   STACK_NAME         the stack's short name in reports and baselines (default: mystack)
#   STACK_CMD          the command line that starts the stack (placeholders: README, "Targets")
#   STACK_BASELINE     the stack's known deviations (TOML; optional: none known)
#   NETCONFORM_TIMING_SCALE  stretch every time window on a slow runner (default 1)
#   NETCONFORM_ARGS    more arguments for "netconform run", split at spaces; after "--"
#                      they go to pytest (e.g. "-- -k handshake": only those tests)
#
# The run writes reports/ in the current directory: allure-report/index.html (one file),
# junit.xml, verdicts.json and the pcaps. Exit status: 0 nothing new, 1 a new deviation or
# a baseline entry that no longer holds, 2 a usage or set-up error, 3 a harness ERROR.
set -euo pipefail

step=${1:?usage: conformance.sh install|run}
home=${NETCONFORM_HOME:-$HOME/netconform}

case "$step" in
  install)
    if [ ! -d "$home/.git" ]; then
      git clone --depth 1 "${NETCONFORM_REPO:?set NETCONFORM_REPO}" "$home"
    fi
    "$home/bootstrap"
    ;;
  run)
    args=(run --target "${STACK_NAME:-mystack}=cmd:${STACK_CMD:?set STACK_CMD}")
    if [ -n "${STACK_BASELINE:-}" ]; then
      args+=(--baseline "$(realpath "$STACK_BASELINE")")
    fi
    read -ra extra <<< "${NETCONFORM_ARGS:-}"
    args+=("${extra[@]}")
    "$home/.venv/bin/netconform" "${args[@]}"
    ;;
  *)
    echo "conformance.sh: unknown step '$step' (install or run)" >&2
    exit 2
    ;;
esac
