#!/bin/sh
# test_mpi.sh: `mpirun -np 2 lateral sweep` against the serial sweep. The result folder must be the same
# (every file byte for byte, sweep.tsv but for its timing column, summary.json but for its timings), both
# ranks must have run some of the runs, a sweep whose worker rank is killed must resume (serially, with
# --resume) to the same table, ranks running another build or other options must be refused before
# anything is written, and every other command must refuse to run as several copies.
# Skipped (77) without mpirun or in a build without MPI (MPIRUN empty).
set -u
b=${top_builddir:-.}
lat="$b/lateral"
[ -n "${MPIRUN:-}" ] && [ -x "$MPIRUN" ] || { echo "test_mpi: no mpirun (or built --without-mpi): skipped"; exit 77; }
# Open MPI refuses root without these, and this machine may have fewer cores than ranks
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
# Open MPI's own allocations are not this project's leaks
ASAN_OPTIONS="${ASAN_OPTIONS:-exitcode=98}:detect_leaks=0"
export ASAN_OPTIONS
tmp=$(mktemp -d /tmp/lateral-mpi-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
grid="--set run.presentations=400 --vary plasticity.gamma=0.1,0.01,0.001 --vary circuit.inputs=9,16,25"

# shellcheck disable=SC2086
"$lat" sweep -q --no-plot -o "$tmp/serial" $grid || bad "serial sweep failed"
# shellcheck disable=SC2086
"$MPIRUN" -np 2 "$lat" sweep --no-plot -o "$tmp/mpi" $grid > "$tmp/mpi.log" 2>&1 || { cat "$tmp/mpi.log"; bad "2-rank sweep failed"; }

# the same files, the same bytes (timings aside)
same_folder() {
	a=$1 c=$2
	(cd "$a" && find . -type f ! -name .lateral.lock ! -name provenance.jsonl | sort) > "$tmp/list_a"
	(cd "$c" && find . -type f ! -name .lateral.lock ! -name provenance.jsonl | sort) > "$tmp/list_c"
	cmp -s "$tmp/list_a" "$tmp/list_c" || { bad "$a and $c hold different files"; diff "$tmp/list_a" "$tmp/list_c"; }
	while read -r f; do
		case $f in
		*/summary.json) # wall-clock fields aside
			grep -v -E 'seconds|microseconds' "$a/$f" > "$tmp/s1"
			grep -v -E 'seconds|microseconds' "$c/$f" > "$tmp/s2"
			cmp -s "$tmp/s1" "$tmp/s2" || bad "$f differs beyond its timings" ;;
		./sweep.tsv)
			cut -f1-13 "$a/$f" > "$tmp/t1"
			cut -f1-13 "$c/$f" > "$tmp/t2"
			cmp -s "$tmp/t1" "$tmp/t2" || bad "sweep.tsv differs beyond its timing column" ;;
		./sweep_state.bin) ;; # holds the timing column too
		*) cmp -s "$a/$f" "$c/$f" || bad "$f differs" ;;
		esac
	done < "$tmp/list_a"
}
same_folder "$tmp/serial" "$tmp/mpi"
grep -q '"mpi_ranks": 2' "$tmp/mpi/provenance.jsonl" || bad "provenance.jsonl does not record the 2 ranks"
# both ranks worked (rank 0 says how many runs each ran)
grep -q "rank 1 ran [1-9]" "$tmp/mpi.log" || { cat "$tmp/mpi.log"; bad "rank 1 ran no run"; }
grep -q "rank 0 ran [1-9]" "$tmp/mpi.log" || { cat "$tmp/mpi.log"; bad "rank 0 ran no run"; }

# a killed worker: mpirun ends the job; a serial --resume finishes it to the same table
# shellcheck disable=SC2086
"$MPIRUN" -np 2 "$lat" sweep -q --no-plot -o "$tmp/killed" --set run.presentations=20000 \
	--vary plasticity.gamma=0.1,0.01,0.001 --vary circuit.inputs=9,16 > "$tmp/killed.log" 2>&1 &
job=$!
for _ in $(seq 1 100); do
	[ -s "$tmp/killed/run_002/summary.json" ] || [ -s "$tmp/killed/run_001/summary.json" ] && break
	sleep 0.1
done
pkill -KILL -f "lateral sweep -q --no-plot -o $tmp/killed" 2>/dev/null
wait "$job" 2>/dev/null
# shellcheck disable=SC2086
"$lat" sweep -q --no-plot -o "$tmp/killed" --resume --set run.presentations=20000 \
	--vary plasticity.gamma=0.1,0.01,0.001 --vary circuit.inputs=9,16 || bad "resume after a killed rank failed"
# shellcheck disable=SC2086
"$lat" sweep -q --no-plot -o "$tmp/whole" --set run.presentations=20000 \
	--vary plasticity.gamma=0.1,0.01,0.001 --vary circuit.inputs=9,16 || bad "serial reference failed"
cut -f1-13 "$tmp/killed/sweep.tsv" > "$tmp/k1"
cut -f1-13 "$tmp/whole/sweep.tsv" > "$tmp/k2"
cmp -s "$tmp/k1" "$tmp/k2" || bad "the resumed sweep's table differs from the uninterrupted one"

# ranks that run another build, or other options, are refused before anything is written
cp "$lat" "$tmp/other_build" && printf 'x' >> "$tmp/other_build"
small="--set run.presentations=100 --vary plasticity.gamma=0.1,0.01"
# shellcheck disable=SC2086
"$MPIRUN" -np 1 "$lat" sweep -q --no-plot -o "$tmp/mixed" $small : -np 1 "$tmp/other_build" sweep -q --no-plot \
	-o "$tmp/mixed" $small > "$tmp/mixed.log" 2>&1 && bad "ranks with different binaries were not refused"
grep -q "the ranks resolved different models" "$tmp/mixed.log" || { cat "$tmp/mixed.log"; bad "no message for different binaries"; }
[ ! -e "$tmp/mixed" ] || bad "a refused sweep wrote $tmp/mixed"
# shellcheck disable=SC2086
"$MPIRUN" -np 1 "$lat" sweep -q --no-plot -o "$tmp/mixed" $small : -np 1 "$lat" sweep -q --no-plot \
	-o "$tmp/mixed" $small --set circuit.alpha=5 > "$tmp/mixed.log" 2>&1 && bad "ranks with different options were not refused"
grep -q "the ranks resolved different models" "$tmp/mixed.log" || { cat "$tmp/mixed.log"; bad "no message for different options"; }
[ ! -e "$tmp/mixed" ] || bad "a refused sweep wrote $tmp/mixed"

# other commands refuse to run as copies, with status 2 and a message from rank 0 only
"$MPIRUN" -np 2 "$lat" run -q --no-plot -o "$tmp/run" > "$tmp/run.log" 2>&1
st=$?
[ "$st" -ne 0 ] || bad "mpirun -np 2 lateral run did not fail"
[ "$(grep -c 'runs as one process' "$tmp/run.log")" -eq 1 ] || { cat "$tmp/run.log"; bad "the refusal is not said once"; }
[ ! -e "$tmp/run" ] || bad "a refused run wrote $tmp/run"
[ "$fail" -eq 0 ] && echo "test_mpi: all checks passed"
exit "$fail"
