# metrics.gp: SNR and 1/SNR of the pool against presentations, from lateral's metrics.tsv.
# Usage: gnuplot -e "data='out/run/metrics.tsv'; out='snr.png'; wstar=0; pred=-1" plots/metrics.gp
if (!exists("data")) data = 'out/run/metrics.tsv'
if (!exists("out")) out = 'snr.png'
if (!exists("wstar")) wstar = 0   # 1 when metrics.tsv has a dist_wstar column (fixed inputs)
if (!exists("pred")) pred = -1    # > 0: the closed form's final / initial 1/SNR, drawn as a level
set terminal pngcairo size 1100,420 enhanced font 'sans,10'
set output out
set datafile separator "\t"
set datafile missing ""
stats data using 3 every ::0::0 nooutput
inv0 = STATS_min
stats data using 2 every ::0::0 nooutput
snr0 = STATS_min
set multiplot layout 1,2 title "How convolutional the pool becomes"
set xlabel 'presentations'
set format x '%.0f'
set logscale y
set format y '%g'
set grid
set key outside top center horizontal font ',9'
set tmargin 5
set bmargin 4
set ylabel 'snr\_pool = (1/d) sum_j m_j^2 / v_j'
if (pred > 0) {
    plot data using 1:2 with lines lw 2 title 'snr\_pool', \
         snr0 / pred with lines dt 2 lw 2 lc rgb 'gray30' title 'closed form (converged)'
} else {
    plot data using 1:2 with lines lw 2 title 'snr\_pool'
}
set ylabel '1/snr\_pool, mean ratio |wbar|/|wbar^{init}|'
if (wstar) {
    plot data using 1:3 with lines lw 2 title '1/snr\_pool', \
         data using 1:5 with lines lw 2 title 'mean ratio', \
         data using 1:($6 > 0 ? $6 : NaN) with lines lw 2 title '|W - W*| / |W*|', \
         (pred > 0 ? pred * inv0 : NaN) with lines dt 2 lw 2 lc rgb 'gray30' title 'closed form 1/snr\_pool'
} else {
    plot data using 1:3 with lines lw 2 title '1/snr\_pool', \
         data using 1:5 with lines lw 2 title 'mean ratio', \
         (pred > 0 ? pred * inv0 : NaN) with lines dt 2 lw 2 lc rgb 'gray30' title 'closed form 1/snr\_pool'
}
unset multiplot
