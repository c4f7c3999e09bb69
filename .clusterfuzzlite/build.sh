#!/bin/bash -eu
# ClusterFuzzLite build: every cargo-fuzz target of fuzz/Cargo.toml, copied to
# $OUT, each with its committed seeds (fuzz/seeds/<target>/) as
# <target>_seed_corpus.zip. The test
# `fuzz_seeds::clusterfuzzlite_builds_every_fuzz_target_with_its_seeds` keeps
# the TARGETS list equal to fuzz/Cargo.toml's [[bin]]s.

# The fuzz targets, as fuzz/Cargo.toml names them.
TARGETS="scenario_parse scenario_build policy_parse time_parse held_exact search gate_config states_exact render_hostile git_reader"
# Targets without a seed folder: scenario_build turns its bytes into a
# scenario with `arbitrary`, so libFuzzer starts it from the empty input.
NO_SEEDS="scenario_build"

cd "$SRC/privsim"
cargo fuzz build -O
FUZZ_TARGET_OUTPUT_DIR=fuzz/target/x86_64-unknown-linux-gnu/release

for target in $TARGETS; do
    cp "$FUZZ_TARGET_OUTPUT_DIR/$target" "$OUT/"
    case " $NO_SEEDS " in
    *" $target "*) continue ;;
    esac
    (cd "fuzz/seeds/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
done
