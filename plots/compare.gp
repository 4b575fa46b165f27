# compare.gp: the conv / LC / LC + sharing comparison of examples/compare.sh, per epoch and final.
# Usage: gnuplot -e "data='out/compare/curves.tsv'; summary='out/compare/summary.tsv'; out='compare.png'; titles='\"conv\" \"lc\" ...'" plots/compare.gp
# data: one block per row (row, epoch, mean test accuracy), blocks separated by two blank lines;
# summary: row, mean final test accuracy, std over seeds; titles: the row names, each in double quotes, separated by spaces.
if (!exists("data")) data = 'out/compare/curves.tsv'
if (!exists("summary")) summary = 'out/compare/summary.tsv'
if (!exists("out")) out = 'compare.png'
if (!exists("titles")) titles = ''
title(i) = (i <= words(titles)) ? word(titles, i) : sprintf('row %d', i)
stats data using 1 nooutput
n = int(STATS_max)
set terminal pngcairo size 1300,500 enhanced font 'sans,10'
# gnuplot's default cycle has 8 colours; rows 9 and 10 get their own
set linetype 9 lc rgb '#8c564b' lw 2 pt 9
set linetype 10 lc rgb '#7f7f7f' lw 2 pt 11
set output out
set multiplot layout 1,2 title "Fashion-MNIST: conv vs LC vs LC + weight sharing"
set grid
set xlabel 'epoch'
set xtics 1
set bmargin 9
set ylabel 'test accuracy (%), mean over seeds'
set key bottom right font 'sans,8'
plot for [i=1:n] data index (i - 1) using 2:3 with linespoints lw 2 title title(i)
set xlabel ''
set ylabel 'final test accuracy (%), mean ± std'
set style fill solid 0.5
set boxwidth 0.6
set xtics rotate by -35 font 'sans,8'
set rmargin 16
unset key
plot summary using 1:2:xtic(title(int($1))) with boxes, \
     summary using 1:2:3 with yerrorbars lw 2 pt 0
unset multiplot
