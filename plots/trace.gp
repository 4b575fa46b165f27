# trace.gp: rate trajectories of the first presentations, from lateral's trace.tsv.
# Usage: gnuplot -e "data='out/trace/trace.tsv'; out='trace.png'; neurons=100" plots/trace.gp
if (!exists("data")) data = 'out/trace/trace.tsv'
if (!exists("out")) out = 'trace.png'
if (!exists("neurons")) neurons = 100
if (!exists("shown")) shown = 8
set terminal pngcairo size 1000,480 enhanced font 'sans,10'
set output out
set datafile separator "\t"
set title sprintf("Rates relaxing to their fixed point after each new input (%d of %d neurons shown)", (shown < neurons ? shown : neurons), neurons)
set xlabel 'time (cumulative over presentations)'
set ylabel 'rate'
set grid
set key outside right
set bmargin 4
# a thin vertical line where each new input is presented (on y2, from bottom to top)
set y2range [0:1]
unset y2tics
prev = -1
boundary(p) = (p != prev) ? (prev = p, 1) : NaN
plot data using 2:(boundary($1)) axes x1y2 with impulses lc rgb 'gray45' dt 2 lw 1.5 title 'new input', \
     for [i=1:(shown < neurons ? shown : neurons)] data using 2:(column(2 + i)) with lines title sprintf('r_{%d}', i), \
     data using 2:(column(3 + neurons)) with lines lw 3 lc rgb 'black' title 'r_{inh}', \
     data using 2:(column(4 + neurons)) with lines dt 2 lc rgb 'gray40' title 'b'
