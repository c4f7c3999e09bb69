#!/usr/bin/env bash
# The shell steps of docs/examples/privsim-fuzz-shards.yml: one escalation
# search campaign split over a CI matrix (`privsim fuzz --shard I/N`) and
# merged (`privsim fuzz merge`). Run locally by the test
# `fuzz_campaign::the_shard_workflow_runs_locally_with_three_shards`.
#
#   fuzz-shards.sh shard   # SHARD of SHARDS: writes shard-$SHARD.json
#   fuzz-shards.sh merge   # combines shard-*.json into campaign.json
#
# Settings (environment): SHARDS, JOBS (workers of the whole campaign, at
# least SHARDS), SEED, MAX_STEPS (the whole campaign's move budget),
# STRATEGY, SCENARIOS (a scenario file or folder), PRIVSIM (the binary),
# FUZZ_FLAGS (more `privsim fuzz` options, split at spaces, e.g. `--no-prove`).
set -euo pipefail

privsim="${PRIVSIM:-privsim}"

case "${1:-}" in
shard)
    status=0
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of options.
    "$privsim" fuzz --no-repro ${FUZZ_FLAGS:-} \
        --shard "$SHARD/$SHARDS" --jobs "$JOBS" --seed "$SEED" \
        --max-steps "$MAX_STEPS" --strategy "$STRATEGY" \
        --format json --output "shard-$SHARD.json" \
        "$SCENARIOS" || status=$?
    # 1 means findings: the merge job reports them. Anything else is an error.
    if [ "$status" -gt 1 ]; then
        exit "$status"
    fi
    ;;
merge)
    shards=()
    for ((shard = 1; shard <= SHARDS; shard++)); do
        shards+=("shard-$shard.json")
    done
    status=0
    "$privsim" fuzz merge --format json --output campaign.json "${shards[@]}" || status=$?
    if [ "$status" -le 1 ]; then
        "$privsim" report campaign.json --format md --output campaign.md
    fi
    exit "$status"
    ;;
*)
    echo "usage: fuzz-shards.sh shard|merge" >&2
    exit 2
    ;;
esac
