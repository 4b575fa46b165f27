# weights.gp: the pool's weights before and after (one row per neuron, one column per input), and, when
# the closed form is known (validate), every learned weight against its W* value.
# Usage: gnuplot -e "init='out/run/weights_init.tsv'; final='out/run/weights_final.tsv'; pairs=''; out='weights.png'" plots/weights.gp
# pairs: '' or a file of rows "neuron input w_star w_learned" (validate's w_vs_wstar.tsv).
if (!exists("init")) init = 'out/run/weights_init.tsv'
if (!exists("final")) final = 'out/run/weights_final.tsv'
if (!exists("pairs")) pairs = ''
if (!exists("out")) out = 'weights.png'
panels = (pairs eq '') ? 2 : 3
set terminal pngcairo size (panels == 2 ? 1000 : 1450),440 enhanced font 'sans,10'
set output out
set datafile separator "\t"
set multiplot layout 1,panels title "The pool's weights: each row a neuron, each column an input"
set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')
stats init matrix nooutput
lim = (abs(STATS_min) > abs(STATS_max) ? abs(STATS_min) : abs(STATS_max))
nx = STATS_size_x
ny = STATS_size_y
stats final matrix nooutput
lim = (abs(STATS_min) > lim ? abs(STATS_min) : lim)
lim = (abs(STATS_max) > lim ? abs(STATS_max) : lim)
set cbrange [-lim:lim]
set xlabel 'input j'
set ylabel 'neuron i'
set xrange [-0.5:nx - 0.5]
set yrange [ny - 0.5:-0.5]
set xtics 0, (nx > 20 ? int(nx / 10) : 1) format '%.0f'
set ytics format '%.0f'
set title 'W^{init}'
plot init matrix with image notitle
set title 'learned W'
plot final matrix with image notitle
if (panels == 3) {
    set autoscale
    set yrange [*:*] noreverse
    set xtics autofreq format '%g'
    set ytics autofreq format '%g'
    set title 'learned W against the closed form W*'
    set xlabel 'W*_{ij}'
    set ylabel 'learned W_{ij}'
    set key top left
    set size ratio -1
    plot pairs using 3:4 with points pt 7 ps 0.4 title 'W_{ij}', x with lines lw 1 lc rgb '#777777' title 'W = W*'
}
unset multiplot
