#!/usr/bin/env bash
# The shell steps of the privsim GitHub Action (action.yml at the repository
# root), one subcommand per step, so the same script runs on GitHub and in
# sim/cli/tests/it/action.rs. It reads what the runner provides
# (GITHUB_ACTION_PATH, GITHUB_OUTPUT, GITHUB_PATH, GITHUB_BASE_REF, RUNNER_OS)
# and the step's PRIVSIM_* variables (action.yml maps the inputs onto them).
set -euo pipefail

action_path=${GITHUB_ACTION_PATH:?the runner sets GITHUB_ACTION_PATH}
step=${1:?usage: steps.sh cache-key|build|solver|check|verdict}

output() { printf '%s=%s\n' "$1" "$2" >> "${GITHUB_OUTPUT:?}"; }

case "$step" in
cache-key)
  # hashFiles() only reads the workspace, and the action's checkout is
  # outside it: hash the action's own Cargo.lock here.
  lock=$(sha256sum "$action_path/Cargo.lock" | cut -c1-16)
  prefix="privsim-${RUNNER_OS:-Linux}-$(uname -m)-"
  output key "$prefix$lock"
  output restore-key "$prefix"
  ;;
build)
  # PRIVSIM_BIN: an already built privsim (the local test uses the one cargo
  # test built); otherwise build from the action's checkout.
  if [ -n "${PRIVSIM_BIN:-}" ]; then
    bin_dir=$(cd "$(dirname "$PRIVSIM_BIN")" && pwd)
  else
    CARGO_TARGET_DIR="$action_path/target" cargo build --release --locked \
      --manifest-path "$action_path/Cargo.toml" -p privsim-cli
    bin_dir="$action_path/target/release"
  fi
  "$bin_dir/privsim" --version
  echo "$bin_dir" >> "${GITHUB_PATH:?}"
  ;;
solver)
  if [ -n "${CVC5:-}" ] && [ -x "$CVC5" ] || command -v cvc5 > /dev/null; then
    echo "cvc5 found: $("${CVC5:-cvc5}" --version | sed -n 1p)"
  else
    sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cvc5
    cvc5 --version | sed -n 1p
  fi
  ;;
check)
  baseline=${PRIVSIM_BASELINE:-}
  if [ -z "$baseline" ]; then
    if [ -z "${GITHUB_BASE_REF:-}" ]; then
      echo "::error::no baseline: set the action's baseline input (outside pull requests there is no base branch)"
      output verdict error
      output exit-code 2
      exit 0
    fi
    baseline="git:origin/$GITHUB_BASE_REF"
  fi
  report_dir=${PRIVSIM_REPORT_DIR:-privsim-check}
  args=(check --baseline "$baseline" --report-dir "$report_dir" --format "${PRIVSIM_FORMAT:-text}")
  [ -n "${PRIVSIM_CONFIG:-}" ] && args+=(--config "$PRIVSIM_CONFIG")
  [ "${PRIVSIM_PROVE:-true}" = "true" ] || args+=(--no-prove)
  # Word splitting on purpose: the scenarios input is a space-separated list.
  # shellcheck disable=SC2206
  scenarios=(${PRIVSIM_SCENARIOS:-scenarios/})
  code=0
  privsim "${args[@]}" "${scenarios[@]}" || code=$?
  # privsim itself appends the Markdown report to GITHUB_STEP_SUMMARY and
  # prints annotations when GITHUB_ACTIONS is true.
  case "$code" in
    0) verdict=pass ;;
    1) verdict=fail ;;
    *) verdict=error ;;
  esac
  output verdict "$verdict"
  output exit-code "$code"
  output report-dir "$report_dir"
  if [ -f "$report_dir/check.sarif" ]; then
    output sarif "$report_dir/check.sarif"
  else
    output sarif ""
  fi
  echo "privsim check: $verdict (exit code $code)"
  ;;
verdict)
  if [ "${PRIVSIM_FAIL_ON_VERDICT:-true}" = "true" ] && [ "${PRIVSIM_VERDICT:-error}" != "pass" ]; then
    echo "::error::privsim check: ${PRIVSIM_VERDICT:-error} (see the job summary and the report folder)"
    exit "${PRIVSIM_EXIT_CODE:-2}"
  fi
  ;;
*)
  echo "steps.sh: unknown step \`$step\`" >&2
  exit 2
  ;;
esac
