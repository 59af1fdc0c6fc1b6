# plot.gp: bench/run.sh's pictures, from the .dat files it writes in dir (columns: load images/s p99_ms)
# and the soak samples (t_s rss_kb cpu_s). Call: gnuplot -e "dir='…'; ceiling=N; title='…'; ext='svg'" bench/plot.gp
# (ext = svg or png).
if (!exists("ext")) ext = 'svg'
if (ext eq 'png') { set terminal pngcairo size 900,560 background rgb 'white' font 'sans,11' } else { set terminal svg size 900,560 dynamic background rgb 'white' font 'sans,12' }
has(f) = system("test -s '" . f . "' && echo 1 || echo 0") eq "1"
set grid
set key top left

# throughput and p99 against concurrency (closed loop)
set output dir . '/closed.' . ext
set title 'closed loop: ' . title
set xlabel 'concurrency (requests in flight)'
set ylabel 'images/s'
set y2label 'p99 latency (ms)'
set ytics nomirror
set y2tics
set logscale x 2
set yrange [0:*]
set y2range [0:*]
plot ceiling with lines dt 2 lc rgb '#555555' title 'in-process ceiling', \
     dir . '/imgpipe-closed.dat' using 1:2 with linespoints lw 2 lc rgb '#1f77b4' title 'imgpipe images/s', \
     dir . '/imgpipe-closed.dat' using 1:3 axes x1y2 with linespoints dt 3 lc rgb '#1f77b4' title 'imgpipe p99', \
     (has(dir . '/sharp-closed.dat') ? dir . '/sharp-closed.dat' : dir . '/imgpipe-closed.dat') \
        using 1:(has(dir . '/sharp-closed.dat') ? $2 : NaN) with linespoints lw 2 lc rgb '#d62728' title 'sharp images/s', \
     (has(dir . '/sharp-closed.dat') ? dir . '/sharp-closed.dat' : dir . '/imgpipe-closed.dat') \
        using 1:(has(dir . '/sharp-closed.dat') ? $3 : NaN) axes x1y2 with linespoints dt 3 lc rgb '#d62728' title 'sharp p99'
unset logscale x

# achieved throughput and p99 against offered load (open loop, latency from the intended send time)
if (has(dir . '/imgpipe-open.dat')) {
    set output dir . '/open.' . ext
    set title 'open loop (constant arrival rate): ' . title
    set xlabel 'offered load (requests/s)'
    set ylabel 'achieved images/s'
    set y2label 'p99 latency from intended send time (ms)'
    set logscale y2
    set y2range [*:*]
    plot x with lines dt 2 lc rgb '#999999' title 'achieved = offered', \
         ceiling with lines dt 2 lc rgb '#555555' title 'in-process ceiling', \
         dir . '/imgpipe-open.dat' using 1:2 with linespoints lw 2 lc rgb '#1f77b4' title 'imgpipe images/s', \
         dir . '/imgpipe-open.dat' using 1:3 axes x1y2 with linespoints dt 3 lc rgb '#1f77b4' title 'imgpipe p99', \
         (has(dir . '/sharp-open.dat') ? dir . '/sharp-open.dat' : dir . '/imgpipe-open.dat') \
            using 1:(has(dir . '/sharp-open.dat') ? $2 : NaN) with linespoints lw 2 lc rgb '#d62728' title 'sharp images/s', \
         (has(dir . '/sharp-open.dat') ? dir . '/sharp-open.dat' : dir . '/imgpipe-open.dat') \
            using 1:(has(dir . '/sharp-open.dat') ? $3 : NaN) axes x1y2 with linespoints dt 3 lc rgb '#d62728' title 'sharp p99'
    unset logscale y2
}

# RSS over time during the soak run
if (has(dir . '/imgpipe-soak.samples')) {
    set output dir . '/soak-rss.' . ext
    set title 'soak: resident memory over time, ' . title
    set xlabel 'time (s)'
    set ylabel 'RSS (MB)'
    unset y2label
    unset y2tics
    set yrange [0:*]
    plot dir . '/imgpipe-soak.samples' using 1:($2 / 1024) with lines lw 2 lc rgb '#1f77b4' title 'imgpipe', \
         (has(dir . '/sharp-soak.samples') ? dir . '/sharp-soak.samples' : dir . '/imgpipe-soak.samples') \
            using 1:(has(dir . '/sharp-soak.samples') ? $2 / 1024 : NaN) with lines lw 2 lc rgb '#d62728' title 'sharp'
}
