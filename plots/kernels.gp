# kernels.gp: the kernels of an LC layer at every output position, as one mosaic per output channel (from
# lateral train's kernels.tsv: each k x k kernel, input channel 1, at its position; blank between them).
# Usage: gnuplot -e "data='out/train/kernels.tsv'; out='kernels.png'; heading='...'" plots/kernels.gp
if (!exists("data")) data = 'out/train/kernels.tsv'
if (!exists("out")) out = 'kernels.png'
if (!exists("heading")) heading = 'LC kernels across positions'
set terminal pngcairo size 1000,560 enhanced font 'sans,10'
set output out
set datafile separator "\t"
set datafile missing "nan"
stats data matrix nooutput
lim = (abs(STATS_min) > abs(STATS_max) ? abs(STATS_min) : abs(STATS_max))
set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')
set cbrange [-lim:lim]
set title heading
set size ratio -1
unset xtics
unset ytics
set yrange [*:*] reverse
set bmargin 3
plot data matrix with image notitle
