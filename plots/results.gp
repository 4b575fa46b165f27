# results.gp: test accuracy and snr_channel against epochs, one line per row of results/run.sh.
# Usage: gnuplot -e "data='results/transfer/curves.tsv'; out='curves.png'; heading='...'" plots/results.gp
# data: one block per row, blocks separated by two blank lines; each block starts with a header line
# ("row name" acc snr1 snr2), then epoch, mean test accuracy, mean snr_channel of LC layers 1 and 2.
if (!exists("data")) data = 'results/transfer/curves.tsv'
if (!exists("out")) out = 'curves.png'
if (!exists("heading")) heading = ''
stats data using 1 nooutput
n = STATS_blocks
set terminal pngcairo size 1800,520 enhanced font 'sans,10'
set linetype 9 lc rgb '#8c564b' lw 2 pt 9
set linetype 10 lc rgb '#7f7f7f' lw 2 pt 11
set output out
# three panels and one legend, to the right of the last (legends never cover the curves)
set multiplot layout 1,3 title heading margins 0.04, 0.84, 0.12, 0.90 spacing 0.05
set grid
set xlabel 'epoch'
set xtics 1
set format x '%.0f'
unset key
set ylabel 'test accuracy (%)'
plot for [i=1:n] data index (i - 1) using 1:2 with linespoints lw 2 title columnheader(1)
set ylabel 'snr\_channel, LC layer 1'
plot for [i=1:n] data index (i - 1) using 1:($3 > 0 ? $3 : 1/0) with linespoints lw 2 title columnheader(1)
set ylabel 'snr\_channel, LC layer 2'
set key at screen 0.995, 0.88 right top font 'sans,9' samplen 2
plot for [i=1:n] data index (i - 1) using 1:($4 > 0 ? $4 : 1/0) with linespoints lw 2 title columnheader(1)
unset multiplot
