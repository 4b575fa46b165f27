#!/bin/sh
# test_mpi.sh: `mpirun -np 2 lateral sweep` against the serial sweep. The result folder must be the same
# (every file byte for byte, sweep.tsv but for its timing column, summary.json but for its timings), both
# ranks must have run some of the runs, a sweep whose worker rank is killed must resume (serially, with
# --resume) to the same table, ranks running another build or other options must be refused before
# anything is written, and every other command but train must refuse to run as several copies.
# `mpirun -np 2 lateral train` (data parallel, with sharing phases) against the serial run: the same
# losses to float rounding every epoch, the same files; with the optimiser step split over the ranks
# (the default) the same bits as without; the sums over ranks (tests/mpi_sums) against hand-known sums;
# its checkpoint resumes in one process to the losses of the uninterrupted 2-rank run, and a serial
# checkpoint on 2 ranks to the serial run's; ranks with different experiments are refused; an error is
# said once, a failure on one rank stops both with that rank's message, and SIGTERM to one rank stops
# both at the same batch with a checkpoint that one process resumes to where the uninterrupted run ends.
# `mpirun -np 2 lateral train` with network.shard = "locations" (lc layers split by position) against
# the serial run, with and without sharing phases and as 2 data-parallel groups of 2 (network.shard_ranks),
# its checkpoints resumed across the split both ways; network.shard = "rows" (the activations in strips of
# rows too) on 2 ranks, with and without sharing phases, on 3, as 2 groups of 2, and an lc network of
# residual blocks.
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

# ---- data-parallel training ----
"$b/tests/make_idx" "$tmp" tr 190 1 && "$b/tests/make_idx" "$tmp" te 64 2 || bad "cannot write the data"
cat > "$tmp/exp.cfg" <<CFG
data = { train_images = "tr-images"; train_labels = "tr-labels"; test_images = "te-images"; test_labels = "te-labels"; };
network = { layers = ( { type = "lc"; channels = 4; kernel = 3; }, { type = "relu"; }, { type = "maxpool"; size = 2; },
	{ type = "lc"; channels = 4; kernel = 3; }, { type = "relu"; }, { type = "linear"; outputs = 10; } ); };
train = { epochs = 3; batch = 15; threads = 1; lr = 0.003; };
sharing = { mode = "hebbian"; every = 4; presentations = 4; iterations = 2; };
CFG
"$lat" train -q --no-plot -o "$tmp/dp1" "$tmp/exp.cfg" > /dev/null || bad "serial training failed"
"$MPIRUN" -np 2 "$lat" train --no-plot -o "$tmp/dp2" "$tmp/exp.cfg" > "$tmp/dp2.log" 2>&1 || { cat "$tmp/dp2.log"; bad "2-rank training failed"; }
grep -q "2 ranks x 1 thread, data parallel" "$tmp/dp2.log" || { cat "$tmp/dp2.log"; bad "the 2-rank run does not say it is data parallel"; }
# close: every epoch's train_loss and test_loss within 1e-4 relative, test_acc within one image (of 64)
close() {
	awk -v what="$3" '
		function num(line, key,   m) { return match(line, "\"" key "\": [-0-9.e+]*") ? substr(line, RSTART + length(key) + 4, RLENGTH - length(key) - 4) + 0 : "none" }
		NR == FNR { a[FNR] = $0; next }
		{ n++; for (k = 1; k <= 3; k++) {
			key = k == 1 ? "train_loss" : k == 2 ? "test_loss" : "test_acc"
			x = num(a[FNR], key); y = num($0, key)
			if (x == "none" || y == "none") { print what ": epoch " FNR ": no " key; bad = 1; continue }
			d = x - y; if (d < 0) d = -d
			if ((k < 3 && d > 1e-4 * (x < 0 ? -x : x)) || (k == 3 && d > 100 / 64 + 1e-9)) { print what ": epoch " FNR ": " key " " x " vs " y; bad = 1 }
		} }
		END { if (n != 3 || FNR != n) { print what ": " n " epochs"; bad = 1 } exit bad }' "$1" "$2"
}
close "$tmp/dp1/epochs.jsonl" "$tmp/dp2/epochs.jsonl" "1 vs 2 ranks" || bad "2-rank training differs from serial beyond rounding"
grep -q '"sum_seconds"' "$tmp/dp2/epochs.jsonl" || bad "the 2-rank log has no sum_seconds"
(cd "$tmp/dp1" && find . -type f ! -name provenance.jsonl | sort) > "$tmp/dpf1"
(cd "$tmp/dp2" && find . -type f ! -name provenance.jsonl | sort) > "$tmp/dpf2"
cmp -s "$tmp/dpf1" "$tmp/dpf2" || { diff "$tmp/dpf1" "$tmp/dpf2"; bad "the 2-rank folder holds other files than the serial one"; }
grep -q '"mpi_ranks": 2' "$tmp/dp2/provenance.jsonl" || bad "provenance does not record 2 ranks"
# the split optimiser step (the default) against every rank summing all gradients and stepping them all:
# the same losses and weights, bit for bit (test_train compares the optimiser state too)
"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/dpw" "$tmp/exp.cfg" --set train.split_optimizer=false > /dev/null 2>&1 ||
	bad "2-rank training without the split optimiser step failed"
grep -o '"t[a-z]*_loss": [-0-9.e+]*' "$tmp/dp2/epochs.jsonl" > "$tmp/dpl2"
grep -o '"t[a-z]*_loss": [-0-9.e+]*' "$tmp/dpw/epochs.jsonl" > "$tmp/dplw"
[ -s "$tmp/dpl2" ] && cmp -s "$tmp/dpl2" "$tmp/dplw" || bad "the split optimiser step changes the losses"
"$lat" export -o "$tmp/dp2x" "$tmp/dp2/checkpoint.bin" > /dev/null 2>&1 &&
	"$lat" export -o "$tmp/dpwx" "$tmp/dpw/checkpoint.bin" > /dev/null 2>&1 ||
	bad "cannot export the 2-rank checkpoints"
for f in "$tmp"/dp2x/*.npy; do
	cmp -s "$f" "$tmp/dpwx/${f##*/}" || bad "the split optimiser step changes ${f##*/}"
done
# the sums themselves against sums known by hand, on 2 and 3 ranks
for np in 2 3; do
	"$MPIRUN" -np $np "$b/tests/mpi_sums" > "$tmp/sums$np.log" 2>&1 ||
		{ cat "$tmp/sums$np.log"; bad "the sums over $np ranks fail"; }
done
# a checkpoint written by 2 ranks after epoch 1 resumes in one process to the 2-rank run's losses
"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/dp3" "$tmp/exp.cfg" --set train.epochs=1 > /dev/null 2>&1 || bad "2-rank 1-epoch training failed"
"$lat" train -q --no-plot --resume -o "$tmp/dp3" "$tmp/exp.cfg" > /dev/null 2>&1 || bad "resuming a 2-rank checkpoint in one process failed"
close "$tmp/dp2/epochs.jsonl" "$tmp/dp3/epochs.jsonl" "2 ranks vs 2 ranks then 1" || bad "the resumed run differs from the uninterrupted one beyond rounding"
# and one written by one process resumes on 2 ranks to the serial run's losses
"$lat" train -q --no-plot -o "$tmp/dp9" "$tmp/exp.cfg" --set train.epochs=1 > /dev/null 2>&1 || bad "1-epoch serial training failed"
"$MPIRUN" -np 2 "$lat" train -q --no-plot --resume -o "$tmp/dp9" "$tmp/exp.cfg" > /dev/null 2>&1 || bad "resuming a serial checkpoint on 2 ranks failed"
close "$tmp/dp1/epochs.jsonl" "$tmp/dp9/epochs.jsonl" "1 rank vs 1 rank then 2" || bad "the run resumed on 2 ranks differs from the serial one beyond rounding"
# ranks with different experiments are refused before anything is written
"$MPIRUN" -np 1 "$lat" train -q --no-plot -o "$tmp/dp4" "$tmp/exp.cfg" : -np 1 "$lat" train -q --no-plot \
	-o "$tmp/dp4" "$tmp/exp.cfg" --set train.lr=0.01 > "$tmp/dp4.log" 2>&1 && bad "ranks with different experiments were not refused"
grep -q "the ranks resolved different experiments" "$tmp/dp4.log" || { cat "$tmp/dp4.log"; bad "no message for different experiments"; }
[ ! -e "$tmp/dp4" ] || bad "a refused training wrote $tmp/dp4"
# an error of every rank is said once, with the input error status
"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/dp5" "$tmp/exp.cfg" --set train.batch=0 > "$tmp/dp5.log" 2>&1
st=$?
[ "$st" -eq 2 ] || { cat "$tmp/dp5.log"; bad "a bad train.batch under 2 ranks exits with $st, not 2"; }
[ "$(grep -c 'train.batch' "$tmp/dp5.log")" -eq 1 ] || { cat "$tmp/dp5.log"; bad "the error is not said once"; }
# SIGTERM to one of 2 ranks training CFG (with the options after it) stops both at the same batch with a
# checkpoint; one process resumes it to the end, where the uninterrupted 2-rank run ends (losses to
# 1e-4). NAME names the folders and messages.
signalled_resume() {
	name=$1 cfg=$2
	shift 2
	"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/$name" "$cfg" "$@" > "$tmp/$name.log" 2>&1 &
	job=$!
	for _ in $(seq 1 300); do
		[ -s "$tmp/$name/checkpoint.bin" ] && break
		sleep 0.05
	done
	one=$(pgrep -f "lateral train -q --no-plot -o $tmp/$name " | tail -n 1)
	[ -n "$one" ] && kill -TERM "$one"
	wait "$job"
	st=$?
	if [ "$st" -eq 0 ]; then
		echo "test_mpi: note: the 40-epoch run $name ended before the signal; its interruption was not tested"
		return
	fi
	[ "$st" -eq 143 ] || { cat "$tmp/$name.log"; bad "$name: SIGTERM to one rank: status $st, not 143"; }
	grep -q "stopped after" "$tmp/$name.log" || { cat "$tmp/$name.log"; bad "$name: no stop message after SIGTERM"; }
	"$lat" train -q --no-plot --resume -o "$tmp/$name" "$cfg" > /dev/null 2>&1 || bad "$name: resuming the signalled run failed"
	"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/$name-whole" "$cfg" "$@" > /dev/null 2>&1 || bad "$name: the 40-epoch 2-rank run failed"
	tail -n 3 "$tmp/$name/epochs.jsonl" > "$tmp/$name.tail"
	tail -n 3 "$tmp/$name-whole/epochs.jsonl" > "$tmp/$name-whole.tail"
	close "$tmp/$name-whole.tail" "$tmp/$name.tail" "$name: signalled and resumed vs uninterrupted" ||
		bad "$name: the signalled run resumed elsewhere than the uninterrupted one"
}
sed 's/epochs = 3;/epochs = 40;/' "$tmp/exp.cfg" > "$tmp/long.cfg"
signalled_resume dp7 "$tmp/long.cfg"
# a failure on one rank only (its memory limit) stops both, named once by that rank, nothing left behind
"$MPIRUN" -np 1 "$lat" train -q --no-plot -o "$tmp/dp6" "$tmp/exp.cfg" : -np 1 "$lat" train -q --no-plot \
	-o "$tmp/dp6" "$tmp/exp.cfg" --max-memory 1K > "$tmp/dp6.log" 2>&1 && bad "a rank's failure did not stop the run"
[ "$(grep -c 'max-memory limit.*(rank 1 of 2)' "$tmp/dp6.log")" -eq 1 ] || { cat "$tmp/dp6.log"; bad "rank 1's failure is not named once"; }
[ ! -e "$tmp/dp6" ] || bad "a training stopped by rank 1 left $tmp/dp6"

# ---- lateral train with network.shard = "locations": the lc layers split over 2 ranks train the serial
# run's losses (to float rounding) into the same files; the checkpoint holds the whole network, so 2
# split ranks resume one process's checkpoint and one process resumes theirs, both to the serial run's
# losses; with sharing phases (run on the gathered layers) too ----
grep -v '^sharing' "$tmp/exp.cfg" > "$tmp/split.cfg"
"$lat" train -q --no-plot -o "$tmp/sp1" "$tmp/split.cfg" > /dev/null || bad "serial training without sharing failed"
"$MPIRUN" -np 2 "$lat" train --no-plot -o "$tmp/sp2" "$tmp/split.cfg" --set network.shard=locations > "$tmp/sp2.log" 2>&1 ||
	{ cat "$tmp/sp2.log"; bad "2-rank split training failed"; }
grep -q "2 ranks x 1 thread, lc layers split by location" "$tmp/sp2.log" || { cat "$tmp/sp2.log"; bad "the split run does not say so"; }
close "$tmp/sp1/epochs.jsonl" "$tmp/sp2/epochs.jsonl" "1 rank vs 2 split ranks" || bad "the split training differs from serial beyond rounding"
(cd "$tmp/sp1" && find . -type f ! -name provenance.jsonl | sort) > "$tmp/spf1"
(cd "$tmp/sp2" && find . -type f ! -name provenance.jsonl | sort) > "$tmp/spf2"
cmp -s "$tmp/spf1" "$tmp/spf2" || { diff "$tmp/spf1" "$tmp/spf2"; bad "the split run's folder holds other files than the serial one"; }
"$lat" train -q --no-plot -o "$tmp/sp3" "$tmp/split.cfg" --set train.epochs=1 > /dev/null 2>&1 || bad "1-epoch serial training failed"
"$MPIRUN" -np 2 "$lat" train -q --no-plot --resume -o "$tmp/sp3" "$tmp/split.cfg" --set network.shard=locations --set train.epochs=2 \
	> /dev/null 2>&1 || bad "2 split ranks could not resume a serial checkpoint"
"$lat" train -q --no-plot --resume -o "$tmp/sp3" "$tmp/split.cfg" > /dev/null 2>&1 || bad "one process could not resume the split ranks' checkpoint"
close "$tmp/sp1/epochs.jsonl" "$tmp/sp3/epochs.jsonl" "serial vs serial, split, serial" || bad "resuming across the split changed the losses beyond rounding"
"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/sp4" "$tmp/exp.cfg" --set network.shard=locations > "$tmp/sp4.log" 2>&1 ||
	{ cat "$tmp/sp4.log"; bad "2-rank split training with sharing phases failed"; }
close "$tmp/dp1/epochs.jsonl" "$tmp/sp4/epochs.jsonl" "1 rank vs 2 split ranks, sharing" || bad "split training with sharing differs from serial beyond rounding"

# network.shard = "rows": the same split, the activations in strips of rows too (halo rows exchanged),
# on 2 ranks without and with sharing phases and on 3 ranks (2 pooled rows of another rank's strip)
"$MPIRUN" -np 2 "$lat" train --no-plot -o "$tmp/sr2" "$tmp/split.cfg" --set network.shard=rows > "$tmp/sr2.log" 2>&1 ||
	{ cat "$tmp/sr2.log"; bad "2-rank training in strips of rows failed"; }
grep -q "2 ranks x 1 thread, lc layers and activations split into strips of rows" "$tmp/sr2.log" ||
	{ cat "$tmp/sr2.log"; bad "the run in strips of rows does not say so"; }
close "$tmp/sp1/epochs.jsonl" "$tmp/sr2/epochs.jsonl" "1 rank vs 2 ranks in strips" || bad "training in strips of rows differs from serial beyond rounding"
"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/sr4" "$tmp/exp.cfg" --set network.shard=rows > /dev/null 2>&1 ||
	bad "2-rank training in strips with sharing phases failed"
close "$tmp/dp1/epochs.jsonl" "$tmp/sr4/epochs.jsonl" "1 rank vs 2 ranks in strips, sharing" || bad "strips with sharing differ from serial beyond rounding"
"$MPIRUN" -np 3 "$lat" train -q --no-plot -o "$tmp/sr3" "$tmp/split.cfg" --set network.shard=rows > /dev/null 2>&1 ||
	bad "3-rank training in strips of rows failed"
close "$tmp/sp1/epochs.jsonl" "$tmp/sr3/epochs.jsonl" "1 rank vs 3 ranks in strips" || bad "3 ranks in strips differ from serial beyond rounding"

# 3 ranks: the sums' ring with uneven segments, data parallel (the gradients, floats) and split with
# hebbian phases that iterate (the pools' summed drives, doubles: 36 pools x 64 presentations)
"$MPIRUN" -np 3 "$lat" train -q --no-plot -o "$tmp/r3" "$tmp/exp.cfg" > /dev/null 2>&1 || bad "3-rank training failed"
close "$tmp/dp1/epochs.jsonl" "$tmp/r3/epochs.jsonl" "1 rank vs 3 ranks" || bad "3-rank training differs from serial beyond rounding"
set -- --set sharing.presentations=64 --set sharing.border=include
"$lat" train -q --no-plot -o "$tmp/hb1" "$tmp/exp.cfg" "$@" > /dev/null 2>&1 || bad "serial training with iterated phases failed"
"$MPIRUN" -np 3 "$lat" train -q --no-plot -o "$tmp/hb3" "$tmp/exp.cfg" "$@" --set network.shard=locations > /dev/null 2>&1 ||
	bad "3 split ranks with iterated phases failed"
close "$tmp/hb1/epochs.jsonl" "$tmp/hb3/epochs.jsonl" "1 rank vs 3 split ranks, iterated phases" ||
	bad "3 split ranks with iterated phases differ from serial beyond rounding"

# kernels.tsv of an untrained network: 3 split ranks gather the kernels it shows to the same bytes
"$lat" train -q --no-plot -o "$tmp/kt1" "$tmp/split.cfg" --set train.epochs=0 > /dev/null 2>&1 || bad "an untrained serial run failed"
"$MPIRUN" -np 3 "$lat" train -q --no-plot -o "$tmp/kt3" "$tmp/split.cfg" --set train.epochs=0 --set network.shard=locations \
	> /dev/null 2>&1 || bad "an untrained split run failed"
cmp -s "$tmp/kt1/kernels.tsv" "$tmp/kt3/kernels.tsv" || bad "the split run's kernels.tsv differs from the serial one"

# the same with the lc layers split: the gathered checkpoint resumes in one process
sed 's/epochs = 3;/epochs = 40;/' "$tmp/split.cfg" > "$tmp/split_long.cfg"
signalled_resume sp7 "$tmp/split_long.cfg" --set network.shard=locations

# an lc network of residual blocks: their lc layers split too, the serial losses again
cat > "$tmp/res.cfg" <<CFG
data = { train_images = "tr-images"; train_labels = "tr-labels"; test_images = "te-images"; test_labels = "te-labels"; };
network = { locally_connected = true; layers = ( { type = "conv"; channels = 4; kernel = 3; },
	{ type = "resblock"; channels = 4; }, { type = "resblock"; channels = 6; stride = 2; }, { type = "avgpool"; },
	{ type = "linear"; outputs = 10; } ); };
train = { epochs = 3; batch = 15; threads = 1; lr = 0.003; };
CFG
"$lat" train -q --no-plot -o "$tmp/rs1" "$tmp/res.cfg" > /dev/null || bad "serial residual training failed"
"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/rs2" "$tmp/res.cfg" --set network.shard=locations > "$tmp/rs2.log" 2>&1 ||
	{ cat "$tmp/rs2.log"; bad "2-rank split residual training failed"; }
close "$tmp/rs1/epochs.jsonl" "$tmp/rs2/epochs.jsonl" "1 rank vs 2 split ranks, residual blocks" || bad "split residual blocks differ from serial beyond rounding"
"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/rs3" "$tmp/res.cfg" --set network.shard=rows > "$tmp/rs3.log" 2>&1 ||
	{ cat "$tmp/rs3.log"; bad "2-rank residual training in strips of rows failed"; }
close "$tmp/rs1/epochs.jsonl" "$tmp/rs3/epochs.jsonl" "1 rank vs 2 ranks in strips, residual blocks" ||
	bad "residual blocks in strips of rows differ from serial beyond rounding"

# 4 ranks as 2 data-parallel groups of 2 split ranks (network.shard_ranks = 2; oversubscribed here): the
# serial losses again; a group size that does not divide the ranks is refused, said once
"$MPIRUN" -np 4 "$lat" train --no-plot -o "$tmp/sp5" "$tmp/split.cfg" --set network.shard=locations --set network.shard_ranks=2 \
	> "$tmp/sp5.log" 2>&1 || { cat "$tmp/sp5.log"; bad "4 ranks in 2 split groups failed"; }
grep -q "4 ranks x 1 thread, lc layers split by location in groups of 2 ranks, the groups data parallel" "$tmp/sp5.log" ||
	{ cat "$tmp/sp5.log"; bad "the grouped run does not say so"; }
close "$tmp/sp1/epochs.jsonl" "$tmp/sp5/epochs.jsonl" "1 rank vs 2 groups of 2 split ranks" || bad "the grouped split training differs from serial beyond rounding"
"$MPIRUN" -np 4 "$lat" train -q --no-plot -o "$tmp/sr5" "$tmp/split.cfg" --set network.shard=rows --set network.shard_ranks=2 \
	> "$tmp/sr5.log" 2>&1 || { cat "$tmp/sr5.log"; bad "4 ranks in 2 groups of strips failed"; }
close "$tmp/sp1/epochs.jsonl" "$tmp/sr5/epochs.jsonl" "1 rank vs 2 groups of 2 ranks in strips" ||
	bad "the grouped training in strips differs from serial beyond rounding"
"$MPIRUN" -np 2 "$lat" train -q --no-plot -o "$tmp/sp6" "$tmp/split.cfg" --set network.shard=locations --set network.shard_ranks=3 \
	> "$tmp/sp6.log" 2>&1
st=$?
[ "$st" -eq 2 ] || { cat "$tmp/sp6.log"; bad "network.shard_ranks = 3 on 2 ranks exits with $st, not 2"; }
[ "$(grep -c 'network.shard_ranks = 3' "$tmp/sp6.log")" -eq 1 ] || { cat "$tmp/sp6.log"; bad "the refusal of shard_ranks is not said once"; }

# ---- a network split by location (bench/shard_memory): the lc layers' parts on 2 and 3 ranks train
# the same losses as the whole network on one rank, to float rounding ----
shard="$(cd "$b" && pwd)/bench/shard_memory"
if [ -x "$shard" ]; then
	for np in 1 2 3; do
		(cd "$tmp" && STEPS=4 "$MPIRUN" -np "$np" "$shard" exp.cfg train.batch=15) \
			> "$tmp/shard$np.log" 2>&1 || { cat "$tmp/shard$np.log"; bad "shard_memory on $np ranks failed"; }
	done
	for np in 2 3; do
		awk 'FNR == 1 { f++ } /^# loss per step:/ { for (k = 5; k <= NF; k++) v[f, k] = $k; n[f] = NF }
			END { if (n[1] != 8 || n[2] != 8) exit 1
			      for (k = 5; k <= 8; k++) { d = v[1, k] - v[2, k]; if (d < 0) d = -d; if (d > 1e-5 * v[1, k]) exit 1 } }' \
			"$tmp/shard1.log" "$tmp/shard$np.log" || { cat "$tmp/shard1.log" "$tmp/shard$np.log"; bad "the network split over $np ranks trains other losses"; }
		[ "$(grep -c '^[0-9]' "$tmp/shard$np.log")" -eq "$np" ] || bad "shard_memory on $np ranks does not report every rank"
	done
fi

[ "$fail" -eq 0 ] && echo "test_mpi: all checks passed"
exit "$fail"
