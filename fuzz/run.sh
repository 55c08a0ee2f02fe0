#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: `fuzz/run.sh [seconds per target] [target...]`
# (default 60 s, all targets). CI runs it for a few seconds each; for a real search, run it for
# an hour or more (see SECURITY.md). Needs cargo-fuzz (installed from crates.io if missing) and
# nightly compiler features, which RUSTC_BOOTSTRAP=1 allows on the stable toolchain.
#
# The seeds in fuzz/corpus/<target> are read, never written: what the fuzzer finds goes to a
# working corpus under $PARLEY_FUZZ_WORK (default ~/.cache/parley-fuzz-corpus), kept between runs.
# A crash leaves its input in fuzz/artifacts/<target>/ and makes the script exit non-zero; replay
# it with `cargo fuzz run <target> fuzz/artifacts/<target>/<file>`, then add a regression test.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(phone media_url idempotency rest_send_body webhook)
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
target_dir="${PARLEY_FUZZ_TARGET_DIR:-$HOME/.cache/parley-fuzz-target}"
work="${PARLEY_FUZZ_WORK:-$HOME/.cache/parley-fuzz-corpus}"
# No sanitizer: Parley forbids unsafe code, so address sanitizing finds nothing that a panic
# would not, and costs build time. 16 codegen units: a quicker build, slightly slower runs.
flags=(-s none --codegen-units 16 --target-dir "$target_dir")

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked
fi

cargo fuzz build "${flags[@]}"

passed=0
failed=0
for target in "${targets[@]}"; do
    mkdir -p "$work/$target"
    echo "--- fuzzing $target for ${seconds}s"
    log="$work/$target.log"
    if cargo fuzz run "${flags[@]}" "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|new_units_added)|^Done' "$log" || true
        passed=$((passed + 1))
    else
        tail -n 60 "$log"
        echo "!!! $target failed: the crashing input is in fuzz/artifacts/$target/"
        failed=$((failed + 1))
    fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
