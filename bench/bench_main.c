/*
 * bench_main: the `imgpipe-bench` command. Parses the flags (bench_opts.c), loads the workload and
 * the corpus, runs the HTTP driver (closed or open loop) or the in-process ceiling, then prints the
 * table and writes the JSON. Everything it does is bounded: --duration + --warmup + --drain in
 * time, --max-requests in count, --max-inflight in connections.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_run.h"

/* Bind port 0 on loopback and print what the kernel chose (small race with the next user; fine for scripts). */
static int main_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        fprintf(stderr, "imgpipe-bench: cannot bind a loopback port: %s\n", strerror(errno));
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    bench_config cfg;
    bench_error err = {{0}};
    bench_corpus corpus = {0};
    bench_workload w = {0};
    bench_run *run = NULL;
    int status = 2;
    int prc = bench_opts_parse(argc, argv, &cfg, &err);
    if (prc == 1 || (prc == 0 && cfg.free_port))
        return prc == 1 ? 0 : main_free_port();
    if (prc != 0)
        goto fail;
    status = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        bench_error_set(&err, "libcurl failed to initialise");
        goto fail;
    }
    if (!cfg.inprocess && bench_url_check(cfg.url, cfg.allow_remote, &err) != 0)
        goto fail;
    if (bench_workload_parse(cfg.do_arg, &w, &err) != 0 || bench_corpus_load(cfg.corpus, &corpus, &err) != 0 ||
        bench_workload_bind(&w, &corpus, &err) != 0)
        goto fail;
    run = calloc(1, sizeof(*run));
    if (!run) {
        bench_error_set(&err, "out of memory");
        goto fail;
    }
    int rc = cfg.inprocess ? bench_inproc_run(&cfg, &w, &corpus, run, &err) : bench_http_run(&cfg, &w, &corpus, run, &err);
    if (rc != 0)
        goto fail;
    if (!cfg.quiet)
        bench_report_print(run, stdout);
    if (bench_report_write_json(run, cfg.json_path, &err) != 0 || bench_report_append_tsv(run, cfg.tsv_path, &err) != 0 ||
        bench_report_write_samples(run, cfg.samples_path, &err) != 0)
        goto fail;
    /* the run completed; say so in the status when it measured nothing useful */
    status = 0;
    if (run->aborted[0] || (run->st.requests > 0 && run->st.ok == 0)) {
        fprintf(
            stderr, "imgpipe-bench: %s\n",
            run->aborted[0]
                ? run->aborted
                : "no request succeeded: see 'first error' (server down or overloaded, or a wrong --url, operation or corpus?)");
        status = 3;
    }
    goto out;
fail:
    fprintf(stderr, "imgpipe-bench: %s\n", err.message);
out:
    if (run)
        bench_proc_free(&run->proc);
    free(run);
    bench_workload_free(&w);
    bench_corpus_free(&corpus);
    curl_global_cleanup();
    return status;
}
