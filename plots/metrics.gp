# metrics.gp: SNR and 1/SNR of the pool against presentations, from lateral's metrics.tsv.
# Usage: gnuplot -e "data='out/run/metrics.tsv'; out='snr.png'; wstar=0" plots/metrics.gp
if (!exists("data")) data = 'out/run/metrics.tsv'
if (!exists("out")) out = 'snr.png'
if (!exists("wstar")) wstar = 0   # 1 when metrics.tsv has a dist_wstar column (fixed inputs)
set terminal pngcairo size 1000,420 enhanced font 'sans,10'
set output out
set datafile separator "\t"
set datafile missing ""
set multiplot layout 1,2 title "How convolutional the pool becomes"
set xlabel 'presentations'
set logscale y
set grid
set key top left
set ylabel 'SNR = (1/d) sum_j m_j^2 / v_j'
plot data using 1:2 with lines lw 2 title 'SNR'
set ylabel '1/SNR, mean ratio |wbar|/|wbar^{init}|'
set key top right
if (wstar) {
    plot data using 1:3 with lines lw 2 title '1/SNR', \
         data using 1:5 with lines lw 2 title 'mean ratio', \
         data using 1:($6 > 0 ? $6 : NaN) with lines lw 2 title '|W - W*| / |W*|'
} else {
    plot data using 1:3 with lines lw 2 title '1/SNR', \
         data using 1:5 with lines lw 2 title 'mean ratio'
}
unset multiplot
