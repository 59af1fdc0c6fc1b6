/*
 * test_http_config: `imgpipe serve` settings: --help lists every setting with its env var,
 * --print-env prints a loadable env file, bad values exit 2 naming the setting and what is
 * allowed, an env var is applied and a flag wins over it (seen in the startup line); the startup
 * warning for a non-loopback listener without API keys or URL signature key (the classifier and
 * the message directly: tests never listen beyond 127.0.0.1; a loopback server does not warn).
 */
#include <netinet/in.h>

#include "svc_server.h"
#include "svc_test.h"

/* Run imgpipe with args and env; capture stdout+stderr into out. Returns the exit status. */
static int run(const char *const *args, const char *const *env, char *out, size_t outlen)
{
    int pipefd[2], st = 0;
    size_t len = 0;
    pid_t pid;
    if (pipe(pipefd) != 0)
        return -1;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        const char *argv[32];
        int n = 0;
        argv[n++] = getenv("IMGPIPE_BIN");
        for (int i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    for (double end = t_now() + 20;;) {
        ssize_t r;
        if (t_now() > end) { /* bounded: a server that started by mistake is killed */
            diag("imgpipe did not exit within 20 s; killed");
            kill(pid, SIGKILL);
            break;
        }
        r = read(pipefd[0], out + len, outlen - 1 - len);
        if (r < 0 && errno == EAGAIN) {
            usleep(10000);
            continue;
        }
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len >= outlen - 1)
            break;
    }
    out[len] = '\0';
    close(pipefd[0]);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
    static char out[65536];
    static const char *const names[] = {"listen",
                                        "workers",
                                        "isolation",
                                        "queue",
                                        "max-queue-wait",
                                        "worker-max-jobs",
                                        "worker-max-rss",
                                        "worker-memory-limit",
                                        "max-body-bytes",
                                        "max-pixels",
                                        "max-output-pixels",
                                        "max-frames",
                                        "max-heif-encode-ms",
                                        "deadline",
                                        "allowed-types",
                                        "tls-cert",
                                        "tls-key",
                                        "log-level",
                                        "access-log",
                                        "vips-concurrency",
                                        "api-keys",
                                        "url-signature-key",
                                        "cors-origins",
                                        "metrics-listen",
                                        "max-connections",
                                        "idle-timeout",
                                        "handshake-timeout",
                                        "memory-budget",
                                        "max-inflight-body-bytes",
                                        "http2-max-streams",
                                        "drain-timeout",
                                        "enable-url-source",
                                        "allowed-origins",
                                        "allow-private-sources",
                                        "url-max-redirects",
                                        "url-timeout",
                                        "url-max-fetches",
                                        "mount",
                                        "http-cache-ttl",
                                        "etag"};
    char want[128];

    is_int(run((const char *const[]){"serve", "--help", NULL}, NULL, out, sizeof(out)), 0, "serve --help exits 0");
    int missing = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(want, sizeof(want), "--%s ", names[i]);
        if (strstr(out, want) == NULL) {
            diag("--help lacks %s", names[i]);
            missing++;
        }
    }
    is_int(missing, 0, "--help lists every setting");
    ok(strstr(out, "IMGPIPE_MAX_BODY_BYTES") != NULL, "--help shows the env var names");
    /* Every variable name ends before the description column: two spaces after it, and the descriptions
       of all settings start at the same column. */
    int runs_in = 0, col = -1, ragged = 0;
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *e = strstr(l, "IMGPIPE_"), *nl = strchr(l, '\n');
        if (strncmp(l, "  --", 4) != 0 || e == NULL || (nl && e > nl))
            continue;
        while (*e == '_' || (*e >= 'A' && *e <= 'Z') || (*e >= '0' && *e <= '9'))
            e++;
        if (*e == '*') /* --print-env's description, not a setting */
            continue;
        if (e[0] != ' ' || e[1] != ' ') {
            runs_in++;
            continue;
        }
        while (*e == ' ')
            e++;
        if (col < 0)
            col = (int)(e - l);
        else if ((int)(e - l) != col)
            ragged++;
    }
    ok(col > 0 && runs_in == 0 && ragged == 0,
       "--help: every variable name is followed by the description column "
       "(%d run in, %d start elsewhere)",
       runs_in, ragged);

    is_int(run((const char *const[]){"serve", "--print-env", NULL}, NULL, out, sizeof(out)), 0, "serve --print-env exits 0");
    ok(strstr(out, "\nIMGPIPE_LISTEN=127.0.0.1:8080\n") != NULL, "--print-env: listen default");
    ok(strstr(out, "\nIMGPIPE_DEADLINE=10s\n") != NULL, "--print-env: deadline default");
    ok(strstr(out, "\nIMGPIPE_MAX_BODY_BYTES=32MiB\n") != NULL, "--print-env: max body default");
    int bad_lines = 0, settings = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        if (strncmp(line, "IMGPIPE_", 8) != 0 || strchr(line, '=') == NULL)
            bad_lines++;
        else
            settings++;
    }
    is_int(bad_lines, 0, "--print-env: every line is a comment or IMGPIPE_X=value");
    is_int(settings, (int)(sizeof(names) / sizeof(names[0])), "--print-env: one line per setting");

    struct {
        const char *const *args;
        const char *const *env;
        const char *needle;
    } bad[] = {
        {(const char *const[]){"serve", "--workers", "abc", NULL}, NULL, "--workers: 'abc'"},
        {(const char *const[]){"serve", "--workers", "100000", NULL}, NULL, "integer 0..256"},
        {(const char *const[]){"serve", NULL}, (const char *const[]){"IMGPIPE_QUEUE=-1", NULL}, "IMGPIPE_QUEUE"},
        {(const char *const[]){"serve", "--deadline", "forever", NULL}, NULL, "--deadline"},
        {(const char *const[]){"serve", "--max-body-bytes", "12XB", NULL}, NULL, "KiB/MiB/GiB"},
        {(const char *const[]){"serve", "--log-level", "loud", NULL}, NULL, "error,warn,info,debug"},
        {(const char *const[]){"serve", "--listen", "nowhere", NULL}, NULL, "HOST:PORT"},
        {(const char *const[]){"serve", "--tls-cert", "/x.pem", NULL}, NULL, "tls-key"},
        {(const char *const[]){"serve", "--no-such-setting", "1", NULL}, NULL, "unknown setting"},
        {(const char *const[]){"serve", "--workers", NULL}, NULL, "needs a value"},
        {(const char *const[]){"serve", "--access-log", "maybe", NULL}, NULL, "on or off"},
        {(const char *const[]){"serve", "--allowed-types", "jpeg,bmp", NULL}, NULL, "allowed-types"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int st = run(bad[i].args, bad[i].env, out, sizeof(out));
        is_int(st, 2, "bad setting %zu exits 2", i);
        if (!ok(strstr(out, bad[i].needle) != NULL, "message names it: %s", bad[i].needle))
            diag("output: %s", out);
    }

    /* env applies, a flag wins over env; the startup line shows the result */
    {
        tsrv s;
        static const char *const env[] = {"IMGPIPE_WORKERS=1", "IMGPIPE_QUEUE=3", "IMGPIPE_DEADLINE=7s", NULL};
        static const char *const args[] = {"--queue", "5", NULL};
        if (tsrv_start(&s, args, env) == 0) {
            size_t len;
            char *err = t_slurp(s.err_path, &len);
            ok(err && strstr(err, "\"workers\":1,") != NULL, "env IMGPIPE_WORKERS applied");
            ok(err && strstr(err, "\"queue\":5,") != NULL, "flag --queue wins over IMGPIPE_QUEUE");
            ok(err && strstr(err, "\"deadline_ms\":7000") != NULL, "duration 7s parsed");
            free(err);
            is_int(tsrv_stop(&s, 10), 0, "server exits 0 on SIGTERM");
        } else {
            ok(0, "server started with env settings");
        }
        tsrv_cleanup(&s);
    }
    /* open-service warning */
    {
        static const char *const loop[] = {"127.0.0.1:8080", "127.1.2.3:80", "[::1]:8080", "localhost:8080",
                                           "[::ffff:127.0.0.1]:1"};
        static const char *const open_[] = {"0.0.0.0:8080",  ":8080",          "[::]:8080",
                                            "10.0.0.5:8080", "example.com:80", "[2001:db8::1]:8080"};
        int bad = 0;
        for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
            if (!svc_server_addr_is_loopback(loop[i]) && ++bad)
                diag("%s should be loopback", loop[i]);
        for (size_t i = 0; i < sizeof(open_) / sizeof(open_[0]); i++)
            if (svc_server_addr_is_loopback(open_[i]) && ++bad)
                diag("%s should not be loopback", open_[i]);
        is_int(bad, 0, "loopback listen addresses told from the others (127/8, ::1, v4-mapped, localhost)");
        svc_config cfg;
        char msg[512] = "";
        char *lst[2] = {"127.0.0.1:8080", "0.0.0.0:8080"};
        memset(&cfg, 0, sizeof(cfg));
        cfg.listen.v[0] = lst[0];
        cfg.listen.n = 1;
        is_int(svc_server_open_warning(&cfg, msg, sizeof(msg)), 0, "open-service warning: none on 127.0.0.1");
        cfg.listen.v[1] = lst[1];
        cfg.listen.n = 2;
        is_int(svc_server_open_warning(&cfg, msg, sizeof(msg)), 1, "open-service warning: 0.0.0.0 without keys warns");
        ok(strstr(msg, "0.0.0.0:8080") && strstr(msg, "IMGPIPE_API_KEYS") && strstr(msg, "url-signature-key"),
           "the warning names the address and the settings to set: %s", msg);
        cfg.api_keys = "k1";
        is_int(svc_server_open_warning(&cfg, msg, sizeof(msg)), 0, "open-service warning: none with api-keys");
        cfg.api_keys = NULL;
        cfg.url_signature_key = "0123456789abcdef0123456789abcdef";
        is_int(svc_server_open_warning(&cfg, msg, sizeof(msg)), 0, "open-service warning: none with url-signature-key");
        tsrv s;
        if (tsrv_start(&s, NULL, NULL) == 0) {
            size_t len;
            char *err = t_slurp(s.err_path, &len);
            ok(err && strstr(err, "imgpipe serve: listening") && !strstr(err, "not a loopback address"),
               "a server on 127.0.0.1 without keys starts without the warning");
            free(err);
        }
        tsrv_cleanup(&s);
    }
    /* max-connections: at the limit new connections wait in the backlog until one closes */
    {
        tsrv s;
        static const char *const args[] = {"--max-connections", "2", NULL};
        if (tsrv_start(&s, args, NULL) == 0) {
            int fds[2];
            tresp r;
            CURL *c = curl_easy_init();
            treq q = {.timeout_ms = 800};
            usleep(200000); /* the startup probe's connection is closed */
            for (int i = 0; i < 2; i++) {
                fds[i] = t_connect(s.port);
                /* a partial request: the server accepts (TCP_DEFER_ACCEPT waits for data) and waits */
                if (fds[i] < 0 || write(fds[i], "GET /ready HTTP/1.1\r\n", 21) != 21)
                    diag("connection %d failed", i);
            }
            usleep(200000);
            t_do(c, &s, "/ready", &q, &r);
            ok(r.code == CURLE_OPERATION_TIMEDOUT, "third connection waits while 2 are open (%s)", curl_easy_strerror(r.code));
            tresp_free(&r);
            close(fds[0]);
            q.timeout_ms = 5000;
            t_do(c, &s, "/ready", &q, &r);
            is_int(r.status, 200, "served once one of them closed");
            tresp_free(&r);
            close(fds[1]);
            curl_easy_cleanup(c);
            is_int(tsrv_stop(&s, 10), 0, "exit 0");
        } else {
            ok(0, "server with --max-connections 2 starts");
        }
        tsrv_cleanup(&s);
    }

    /* allowed-types: svg is refused by default (406 on imaginary's routes) and decoded once
     * listed (it unblocks libvips' untrusted SVG loader; the engine still picks the loader) */
    for (int listed = 0; listed < 2; listed++) {
        tsrv s;
        static const char *const dflt[] = {NULL};
        static const char *const svg[] = {"--allowed-types", "jpeg,png,svg", NULL};
        size_t len = 0;
        char *body = t_slurp(tap_fixture("bad/vector-check.svg"), &len);
        if (tsrv_start(&s, listed ? svg : dflt, NULL) == 0 && body != NULL) {
            CURL *c = curl_easy_init();
            treq q = {.body = body, .body_len = len, .content_type = "image/svg+xml"};
            tresp r;
            char iw[16] = "";
            t_do(c, &s, "/resize?width=50&type=png", &q, &r);
            if (listed) {
                is_int(r.status, 200, "svg listed in allowed-types: decoded");
                ok(r.len > 8 && memcmp(r.body, "\x89PNG\r\n\x1a\n", 8) == 0, "as a PNG");
                ok(t_header(&r, "image-width", iw, sizeof(iw)) != NULL && atoi(iw) == 50, "50 px wide (Image-Width %s)", iw);
            } else {
                is_int(r.status, 406, "svg not listed: 406 Unsupported media type");
            }
            tresp_free(&r);
            curl_easy_cleanup(c);
            is_int(tsrv_stop(&s, 10), 0, "exit 0");
        } else {
            ok(0, "server starts (allowed-types case %d)", listed);
        }
        free(body);
        tsrv_cleanup(&s);
    }
    return tap_done();
}
