/*
 * test_bench_smoke: imgpipe-bench against the real server (suite http). Starts `$IMGPIPE_BIN serve`
 * on a free 127.0.0.1 port (skips if it does not come up), runs a 2-second closed-loop load and a
 * 1-second open-loop load and a 1-second HTTP/2 load with the bench binary given as argv[1], and checks the JSON: fields
 * present, requests > 0, no errors, p50 <= p99 <= max, rps > 0, the server sampled (RSS and PSS,
 * PSS below RSS since the server and its workers share libraries). Every wait is
 * bounded; the server is stopped at the end whatever happened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"

extern char **environ;

static void smoke_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int smoke_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int smoke_can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int okc = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return okc;
}

/* Wait for pid at most timeout_ms; returns its exit status, or -1 (killed) on timeout. */
static int smoke_wait(pid_t pid, int timeout_ms)
{
    int status;
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        smoke_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static int smoke_run(char *const argv[], int timeout_ms)
{
    pid_t pid;
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -2;
    return smoke_wait(pid, timeout_ms);
}

static double smoke_num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

/* PSS beside RSS: the server and its workers share libvips and its codecs, so the PSS sum is below
 * the RSS sum; each sample carries its PSS (or null when that sample did not read it). */
static void smoke_check_pss(const char *what, json_t *server)
{
    double pss = smoke_num(server, "pss_peak_kb"), rss = smoke_num(server, "rss_peak_kb");
    ok(pss > 1000 && pss < rss && smoke_num(server, "pss_mean_kb") > 0 && smoke_num(server, "pss_mean_kb") <= pss,
       "%s: server PSS sampled, 1000 < pss peak %.0f < rss peak %.0f KiB, 0 < mean <= peak", what, pss, rss);
    ok(smoke_num(server, "pss_samples") >= 1, "%s: pss_samples %.0f >= 1", what, smoke_num(server, "pss_samples"));
    json_t *fmt = json_object_get(server, "samples_format"), *s0 = json_array_get(json_object_get(server, "samples"), 0);
    ok(json_is_string(fmt) && strcmp(json_string_value(fmt), "[t_s, rss_kb, cpu_s, pss_kb]") == 0 && json_array_size(s0) == 4 &&
           (json_is_integer(json_array_get(s0, 3)) || json_is_null(json_array_get(s0, 3))),
       "%s: samples are [t_s, rss_kb, cpu_s, pss_kb]", what);
}

static void smoke_check(const char *what, const char *json_path, int want_requests)
{
    json_error_t jerr;
    json_t *root = json_load_file(json_path, 0, &jerr);
    if (!ok(root != NULL, "%s: JSON parses", what)) {
        diag("%s: %s", json_path, jerr.text);
        return;
    }
    double requests = smoke_num(root, "requests"), errors = smoke_num(root, "errors"), rps = smoke_num(root, "rps");
    ok(requests > 0, "%s: requests %.0f > 0", what, requests);
    if (want_requests > 0)
        is_int(requests, want_requests, "%s: open loop counts exactly rate x duration requests", what);
    if (!ok(errors == 0, "%s: errors %.0f == 0", what, errors)) {
        json_t *fe = json_object_get(root, "first_error");
        diag("first error: %s", json_is_string(fe) ? json_string_value(fe) : "?");
    }
    ok(rps > 0, "%s: rps %.2f > 0", what, rps);
    ok(smoke_num(root, "images_per_s") > 0, "%s: images_per_s > 0", what);
    ok(smoke_num(root, "bytes_sent") > 0 && smoke_num(root, "bytes_received") > 0, "%s: bytes sent and received", what);
    json_t *lat = json_object_get(root, "latency_ms");
    double p50 = smoke_num(lat, "p50"), p90 = smoke_num(lat, "p90"), p99 = smoke_num(lat, "p99"), p999 = smoke_num(lat, "p99_9"),
           max = smoke_num(lat, "max");
    ok(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max,
       "%s: 0 < p50 %.2f <= p90 <= p99 %.2f <= p99.9 <= max %.2f", what, p50, p99, max);
    json_t *status = json_object_get(root, "status");
    ok(json_is_object(status) && smoke_num(status, "200") == requests, "%s: status {\"200\": requests}", what);
    json_t *server = json_object_get(root, "server");
    ok(json_is_object(server) && smoke_num(server, "rss_peak_kb") > 1000 &&
           json_array_size(json_object_get(server, "samples")) >= 2,
       "%s: server RSS sampled (peak %.0f KiB)", what, smoke_num(server, "rss_peak_kb"));
    smoke_check_pss(what, server);
    json_decref(root);
}

int main(int argc, char **argv)
{
    const char *bench = argc > 1 ? argv[1] : getenv("IMGPIPE_BENCH_BIN");
    const char *imgpipe = getenv("IMGPIPE_BIN");
    if (!bench || !imgpipe) {
        tap_skip(1, "needs the imgpipe-bench path (argv[1]) and IMGPIPE_BIN");
        return tap_done();
    }
    char corpus[4096], tmpdir[] = "/tmp/imgpipe-bench-smoke-XXXXXX", json1[4200], json2[4200], json3[4200], url[64], port_s[32],
                       listen[64], pid_s[32];
    snprintf(corpus, sizeof(corpus), "%s", tap_fixture("photos"));
    if (!mkdtemp(tmpdir)) {
        ok(0, "mkdtemp: %s", strerror(errno));
        return tap_done();
    }
    snprintf(json1, sizeof(json1), "%s/closed.json", tmpdir);
    snprintf(json2, sizeof(json2), "%s/open.json", tmpdir);
    snprintf(json3, sizeof(json3), "%s/h2.json", tmpdir);

    /* refused before any traffic: a non-loopback target without --allow-remote */
    char *refuse[] = {(char *)bench,   "--url", "http://192.0.2.1:9", "--corpus", corpus, "--do", "fit?width=10&height=10",
                      "--concurrency", "1",     "--duration",         "1",        NULL};
    is_int(smoke_run(refuse, 10000), 1, "non-loopback --url is refused (exit 1)");

    /* a loopback port nobody listens on: the run stops early and says so with exit status 3 */
    char dead_url[64];
    snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d", smoke_free_port());
    char *dead[] = {(char *)bench,   "--url", dead_url,     "--corpus", corpus,    "--do", "fit?width=10&height=10",
                    "--concurrency", "2",     "--duration", "20",       "--quiet", NULL};
    is_int(smoke_run(dead, 15000), 3, "no server: stops early with exit 3, well before --duration");

    int port = smoke_free_port();
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    char *serve[] = {(char *)imgpipe, "serve", "--listen", listen, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    char log_path[4200];
    snprintf(log_path, sizeof(log_path), "%s/server.log", tmpdir);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t server = -1;
    int up = 0;
    if (port > 0 && posix_spawn(&server, imgpipe, &fa, NULL, serve, environ) == 0) {
        for (int i = 0; i < 200 && !up; i++) { /* at most 10 s */
            if (waitpid(server, NULL, WNOHANG) == server) {
                server = -1;
                break;
            }
            up = smoke_can_connect(port);
            if (!up)
                smoke_sleep_ms(50);
        }
    }
    posix_spawn_file_actions_destroy(&fa);
    if (!up) {
        if (server > 0) {
            kill(server, SIGKILL);
            waitpid(server, NULL, 0);
        }
        tap_skip(1, "imgpipe serve did not start (not built yet?): see the server log");
        diag("server log: %s", log_path);
        return tap_done();
    }
    snprintf(pid_s, sizeof(pid_s), "%d", (int)server);

    char *closed[] = {(char *)bench,
                      "--url",
                      url,
                      "--corpus",
                      corpus,
                      "--do",
                      "fit?width=200&height=200&type=jpeg&quality=80",
                      "--concurrency",
                      "2",
                      "--duration",
                      "2",
                      "--warmup",
                      "0.3",
                      "--server-pid",
                      pid_s,
                      "--json",
                      json1,
                      "--sample-interval",
                      "0.1",
                      "--quiet",
                      NULL};
    is_int(smoke_run(closed, 30000), 0, "closed loop, concurrency 2, 2 s: exit 0");
    smoke_check("closed", json1, 0);

    char *open_loop[] = {(char *)bench,
                         "--url",
                         url,
                         "--corpus",
                         corpus,
                         "--do",
                         "resize?width=100&type=jpeg",
                         "--rate",
                         "10",
                         "--duration",
                         "1",
                         "--drain",
                         "10",
                         "--server-pid",
                         pid_s,
                         "--json",
                         json2,
                         "--sample-interval",
                         "0.1",
                         "--quiet",
                         NULL};
    is_int(smoke_run(open_loop, 30000), 0, "open loop, 10 req/s, 1 s: exit 0");
    smoke_check("open", json2, 10);

    /* HTTP/2 (h2c): every answer must really come over HTTP/2 */
    char *h2[] = {(char *)bench,
                  "--url",
                  url,
                  "--corpus",
                  corpus,
                  "--do",
                  "fit?width=200&height=200&type=jpeg&quality=80",
                  "--concurrency",
                  "3",
                  "--duration",
                  "1",
                  "--http2",
                  "--server-pid",
                  pid_s,
                  "--json",
                  json3,
                  "--sample-interval",
                  "0.1",
                  "--quiet",
                  NULL};
    is_int(smoke_run(h2, 30000), 0, "HTTP/2, concurrency 3, 1 s: exit 0");
    smoke_check("http2", json3, 0);
    json_t *root = json_load_file(json3, 0, NULL);
    json_t *versions = json_object_get(root, "http_versions");
    ok(root && smoke_num(versions, "2") > 0 && smoke_num(versions, "2") == smoke_num(root, "requests") &&
           smoke_num(versions, "1.1") == 0,
       "http2: every answer came over HTTP/2 (%.0f of %.0f)", smoke_num(versions, "2"), smoke_num(root, "requests"));
    json_decref(root);

    kill(server, SIGTERM);
    ok(smoke_wait(server, 10000) >= 0, "server stops on SIGTERM within 10 s");
    unlink(json1);
    unlink(json2);
    unlink(json3);
    unlink(log_path);
    rmdir(tmpdir);
    return tap_done();
}
