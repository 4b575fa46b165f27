#!/bin/sh
# grid.sh: the 48-circuit grid of issue 8 with every default solver setting: does each circuit settle,
# which method finished its settles, and what a presentation costs. alpha 0.1 ... 1e6 crossed with
# linear, relu, tau_inh = 3, tau_inh = 300, homeostatic bias (models/homeostatic.cfg's circuit keys)
# and N = 400 with d = 81; the default model otherwise (fresh inputs).
# Usage: bench/grid.sh [PRESENTATIONS]   (default 100; LATERAL=path selects the binary)
set -eu
cd "$(dirname "$0")/.."
P=${1:-100}
LAT=${LATERAL:-./lateral}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x "$LAT" ] || { echo "grid.sh: build lateral first (./bootstrap)" >&2; exit 2; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])" "$@"; }

printf '# %s presentations per circuit, default model and solver otherwise; %s\n' "$P" "$(date -u +%F)"
printf '%-12s %8s %8s %12s %9s %9s  %s\n' variant alpha settled us/present polished switches method_used
ok=0
total=0
for variant in linear relu tau_inh3 tau_inh300 homeostatic N400_d81; do
	case $variant in
	linear) sets="" ;;
	relu) sets="circuit.nonlinearity=relu" ;;
	tau_inh3) sets="circuit.tau_inh=3" ;;
	tau_inh300) sets="circuit.tau_inh=300" ;;
	homeostatic) sets="circuit.bias_tau=300 circuit.bias_rho=1 circuit.rate_target=2" ;;
	N400_d81) sets="circuit.neurons=400 circuit.inputs=81" ;;
	esac
	for a in 0.1 1 10 100 1e3 1e4 1e5 1e6; do
		args="--set circuit.alpha=$a --set run.presentations=$P"
		for kv in $sets; do args="$args --set $kv"; done
		total=$((total + 1))
		# shellcheck disable=SC2086
		if $LAT run -q --no-plot --force -o "$OUT/x" $args >"$OUT/log" 2>&1; then
			ok=$((ok + 1))
			printf '%-12s %8s %8s %12.1f %9s %9s  %s\n' "$variant" "$a" yes \
				"$(json "$OUT/x/summary.json" microseconds_per_presentation)" \
				"$(json "$OUT/x/summary.json" presentations_polished)" \
				"$(json "$OUT/x/summary.json" integrator_switches)" \
				"$(json "$OUT/x/summary.json" method_used)"
		else
			printf '%-12s %8s %8s  %s\n' "$variant" "$a" no "$(tail -n 1 "$OUT/log")"
		fi
		rm -rf "$OUT/x"
	done
done
printf '# %d of %d circuits settled every presentation\n' "$ok" "$total"
