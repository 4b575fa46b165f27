#!/bin/sh
# run.sh: runs each libFuzzer harness for SECONDS on a scratch copy of its seed corpus and summarises.
#
# Usage: fuzz/run.sh [SECONDS [HARNESS...]]   (default 600 s each, every harness; build first: fuzz/build.sh)
# Environment: FUZZ_BUILD (harness directory, default fuzz/build), FUZZ_WORK (scratch, default fuzz/work),
# FUZZ_OPTS (extra libFuzzer flags, e.g. -detect_leaks=0: inputs that hit libconfig's known leak cost a leak
# scan each, which makes the config harnesses 5-20 times slower).
#
# Each harness runs (niced, one at a time) in FUZZ_WORK/HARNESS/: the working corpus is corpus/ (seeded from
# fuzz/corpus/HARNESS, kept between runs), crashing inputs go to artifacts/ (crash-*, leak-*, timeout-*,
# oom-*), the full libFuzzer output to fuzz.log. Prints executions, exec/s, coverage (cov: and ft: of the
# final stats), corpus units (corp: after libFuzzer's dedup) and crashes per harness; exits 1 when any harness
# found a crash.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${FUZZ_BUILD:-$here/build}
work=${FUZZ_WORK:-$here/work}
seconds=${1:-600}
[ $# -gt 0 ] && shift
harnesses=${*:-fuzz_model fuzz_experiment fuzz_set fuzz_setint fuzz_idx fuzz_cifar}

# Per-harness options: input size limit and dictionary.
options() {
	case $1 in
	fuzz_model) echo "-max_len=8192 -dict=$here/dict/model.dict" ;;
	fuzz_experiment) echo "-max_len=4096 -dict=$here/dict/experiment.dict" ;;
	fuzz_set) echo "-max_len=1024 -dict=$here/dict/set.dict" ;;
	fuzz_setint) echo "-max_len=128 -dict=$here/dict/setint.dict" ;;
	fuzz_idx) echo "-max_len=1024" ;;
	fuzz_cifar) echo "-max_len=8192" ;;
	*) echo "run.sh: unknown harness $1" >&2; return 1 ;;
	esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
summary=""
for h in $harnesses; do
	opts=$(options "$h")
	if [ ! -x "$build/$h" ]; then
		echo "run.sh: $build/$h missing; run fuzz/build.sh first" >&2
		exit 2
	fi
	dir=$work/$h
	mkdir -p "$dir/corpus" "$dir/artifacts"
	cp -n "$here/corpus/$h"/* "$dir/corpus/" 2>/dev/null || true
	before=$(ls "$dir/artifacts" | wc -l)
	echo "run.sh: $h for $seconds s (log: $dir/fuzz.log)"
	rc=0
	# cwd is the scratch directory: paths in fuzzed files are read relative to it, never written
	(cd "$dir" && nice -n 10 "$build/$h" $opts -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=512 \
		-rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_OPTS:-} -artifact_prefix="$dir/artifacts/" corpus \
		>fuzz.log 2>&1) || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -n 1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$dir/fuzz.log" | tail -n 1 || true)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	units=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	found=$(($(ls "$dir/artifacts" | wc -l) - before))
	if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
		status=1
		echo "run.sh: $h FAILED (exit $rc); inputs kept in $dir/artifacts:" >&2
		ls -t "$dir/artifacts" | head -n "$((found > 0 ? found : 1))" | sed 's/^/    /' >&2
		grep -E '^(==[0-9]+== ?ERROR|SUMMARY|.*runtime error)' "$dir/fuzz.log" | head -n 3 | sed 's/^/    /' >&2 || true
	fi
	summary="$summary$(printf '%-16s %12s %8s %6s %7s %7s %7s' "$h" "${execs:-?}" "${speed:-?}" "${cov:-?}" \
		"${ft:-?}" "${units:-?}" "$found")
"
done

printf '\n%-16s %12s %8s %6s %7s %7s %7s\n' harness executions exec/s cov ft corpus crashes
printf '%s' "$summary"
exit $status
