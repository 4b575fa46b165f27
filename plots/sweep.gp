# sweep.gp: SNR against presentations for every run of one group of a `lateral sweep`.
# Usage: gnuplot -e "files='a/metrics.tsv b/metrics.tsv'; titles='d=9 d=36'; out='g.png'; heading='gamma=0.1'" plots/sweep.gp
if (!exists("files")) files = ''
if (!exists("titles")) titles = files
if (!exists("out")) out = 'sweep.png'
if (!exists("heading")) heading = ''
set terminal pngcairo size 1000,420 enhanced font 'sans,10'
set output out
set datafile separator "\t"
set datafile missing ""
set multiplot layout 1,2 title heading
set xlabel 'presentations'
set format x '%.0f'
set logscale y
set format y '%g'
set grid
set key outside top center horizontal font ',9'
set tmargin 5
set bmargin 4
set ylabel 'snr\_pool'
plot for [i=1:words(files)] word(files, i) using 1:2 with lines lw 2 title word(titles, i)
set ylabel '1/snr\_pool relative to its initial value'
plot for [i=1:words(files)] word(files, i) using 1:9 with lines lw 2 title word(titles, i)
unset multiplot
