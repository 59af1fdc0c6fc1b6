# plot.gp: bench/run.sh's pictures, from the .dat files it writes in dir (columns: load images/s p99_ms)
# and the soak samples (t_s rss_kb cpu_s pss_kb). Call: gnuplot -e "dir='…'; ceiling=N; title='…'; ext='svg'" bench/plot.gp
# (ext = svg or png).
if (!exists("ext")) ext = 'svg'
if (ext eq 'png') { set terminal pngcairo size 900,560 background rgb 'white' font 'sans,11' } else { set terminal svg size 900,560 dynamic background rgb 'white' font 'sans,12' }
has(f) = system("test -s '" . f . "' && echo 1 || echo 0") eq "1"
# A series of one point is drawn as a large filled dot (a line through one point is nothing, and a
# small marker on it reads as a dash); two or more as lines with dots.
npts(f) = int(system("test -s '" . f . "' && wc -l < '" . f . "' || echo 0"))
sty(f) = npts(f) > 1 ? "linespoints pt 7 ps 0.7" : "points pt 7 ps 1.6"
S_ic = sty(dir . '/imgpipe-closed.dat')
S_sc = sty(dir . '/sharp-closed.dat')
S_io = sty(dir . '/imgpipe-open.dat')
S_so = sty(dir . '/sharp-open.dat')
# With one load point the x range would be empty: gnuplot then samples the ceiling line over a
# sliver around it, which draws as a dash. Give it an octave on each side instead.
x1(f) = real(system("head -1 '" . f . "' | cut -d' ' -f1"))
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
if (npts(dir . '/imgpipe-closed.dat') == 1) { set xrange [x1(dir . '/imgpipe-closed.dat') / 2 : x1(dir . '/imgpipe-closed.dat') * 2] }
set yrange [0:*]
set y2range [0:*]
plot ceiling with lines dt 2 lc rgb '#555555' title 'in-process ceiling', \
     dir . '/imgpipe-closed.dat' using 1:2 with @S_ic lw 2 lc rgb '#1f77b4' title 'imgpipe images/s', \
     dir . '/imgpipe-closed.dat' using 1:3 axes x1y2 with @S_ic dt 3 lc rgb '#1f77b4' title 'imgpipe p99', \
     (has(dir . '/sharp-closed.dat') ? dir . '/sharp-closed.dat' : dir . '/imgpipe-closed.dat') \
        using 1:(has(dir . '/sharp-closed.dat') ? $2 : NaN) with @S_sc lw 2 lc rgb '#d62728' title (has(dir . '/sharp-closed.dat') ? 'sharp images/s' : ''), \
     (has(dir . '/sharp-closed.dat') ? dir . '/sharp-closed.dat' : dir . '/imgpipe-closed.dat') \
        using 1:(has(dir . '/sharp-closed.dat') ? $3 : NaN) axes x1y2 with @S_sc dt 3 lc rgb '#d62728' title (has(dir . '/sharp-closed.dat') ? 'sharp p99' : '')
unset logscale x
set autoscale x

# achieved throughput and p99 against offered load (open loop, latency from the intended send time)
if (has(dir . '/imgpipe-open.dat')) {
    set output dir . '/open.' . ext
    set title 'open loop (constant arrival rate): ' . title
    set xlabel 'offered load (requests/s)'
    set ylabel 'achieved images/s'
    set y2label 'p99 latency from intended send time (ms)'
    set logscale y2
    set y2range [*:*]
    if (npts(dir . '/imgpipe-open.dat') == 1) { set xrange [x1(dir . '/imgpipe-open.dat') / 2 : x1(dir . '/imgpipe-open.dat') * 2] }
    plot x with lines dt 2 lc rgb '#999999' title 'achieved = offered', \
         ceiling with lines dt 2 lc rgb '#555555' title 'in-process ceiling', \
         dir . '/imgpipe-open.dat' using 1:2 with @S_io lw 2 lc rgb '#1f77b4' title 'imgpipe images/s', \
         dir . '/imgpipe-open.dat' using 1:3 axes x1y2 with @S_io dt 3 lc rgb '#1f77b4' title 'imgpipe p99', \
         (has(dir . '/sharp-open.dat') ? dir . '/sharp-open.dat' : dir . '/imgpipe-open.dat') \
            using 1:(has(dir . '/sharp-open.dat') ? $2 : NaN) with @S_so lw 2 lc rgb '#d62728' title (has(dir . '/sharp-open.dat') ? 'sharp images/s' : ''), \
         (has(dir . '/sharp-open.dat') ? dir . '/sharp-open.dat' : dir . '/imgpipe-open.dat') \
            using 1:(has(dir . '/sharp-open.dat') ? $3 : NaN) axes x1y2 with @S_so dt 3 lc rgb '#d62728' title (has(dir . '/sharp-open.dat') ? 'sharp p99' : '')
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
            using 1:(has(dir . '/sharp-soak.samples') ? $2 / 1024 : NaN) with lines lw 2 lc rgb '#d62728' title (has(dir . '/sharp-soak.samples') ? 'sharp' : '')
}
