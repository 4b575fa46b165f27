# train.gp: test accuracy, training loss and lc-layer SNR per epoch, from lateral train's epochs.jsonl.
# Usage: gnuplot -e "data='out/train/epochs.jsonl'; out='training.png'; n_lc=2" plots/train.gp
if (!exists("data")) data = 'out/train/epochs.jsonl'
if (!exists("out")) out = 'training.png'
if (!exists("n_lc")) n_lc = 0
set terminal pngcairo size 1000,420 enhanced font 'sans,10'
set output out
# One JSON object per line: split on the separators so that every value lands in a column.
set datafile separator ",:[]{}"
stats data using 3 nooutput
epochs = STATS_max
set multiplot layout 1,2 title "Training"
set xlabel 'epoch'
set format x '%.0f'
set xrange [0.5:epochs + 0.5]
if (epochs <= 20) { set xtics 1 } else { set xtics autofreq }
# a single epoch is a single point per curve: say so rather than draw an empty-looking panel
if (epochs == 1) { set label 998 'one epoch: one point per curve' at graph 0.5, 0.5 center tc rgb 'gray40' }
set grid
set key outside top center horizontal font ',9'
set tmargin 5
set bmargin 4
set ylabel 'accuracy (%)'
plot data using 3:7 with linespoints lw 2 title 'train', \
     data using 3:9 with linespoints lw 2 title 'test'
set ylabel 'lc layer snr\_pool'
set logscale y
set format y '%g'
if (n_lc > 0) {
    plot for [i=1:n_lc] data using 3:(column(13 + i)) with linespoints lw 2 title sprintf('lc layer %d', i)
} else {
    unset logscale y
    set ylabel 'training loss'
    plot data using 3:5 with linespoints lw 2 title 'train loss'
}
unset multiplot
