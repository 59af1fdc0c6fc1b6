/*
 * test_engine_renditions: /renditions in the engine. The grammar (outputs, names, placeholders,
 * precise errors naming the rendition); every operation kind of the transform grammar done as a
 * rendition against the same spec done alone by /transform (same type and size, within 40 dB
 * PSNR), on a JPEG, an EXIF-rotated JPEG and a PNG with alpha; the multipart and JSON forms;
 * placeholders and info from the shared decode; part failures and all=true; the set's pixel limit;
 * the same plan from outputs held apart (pl_renditions_parse_specs); the encodes shared with a
 * second thread (same bytes, failures reported in order).
 */
#include <jansson.h>
#include <math.h>

#include "engine_util.h"
#include "pl_renditions.h"

/* "w=640&type=webp" -> "w%3D640%26type%3Dwebp" */
static void enc(const char *s, GString *out)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
            g_string_append_c(out, (char)c);
        else
            g_string_append_printf(out, "%%%02X", c);
    }
}

/* A renditions query from specs (NULL-terminated) and extra top-level parameters. */
static char *query(const char *const *specs, int n, const char *extra)
{
    GString *q = g_string_new("renditions?");
    for (int i = 0; i < n; i++) {
        g_string_append(q, i ? "&r=" : "r=");
        enc(specs[i], q);
    }
    if (extra && *extra)
        g_string_append_printf(q, "%s%s", n ? "&" : "", extra);
    return g_string_free(q, FALSE);
}

static int run_json(const char *q, const eu_file *f, const pl_limits *lim, json_t **doc, pl_result *res, pl_error *err)
{
    *doc = NULL;
    int r = eu_run_full(q, f->data, f->len, "application/json", lim, NULL, res, err);
    if (r == 0) {
        json_error_t je;
        *doc = json_loadb(res->data, res->len, 0, &je);
        if (*doc == NULL)
            diag("answer is not JSON: %s", je.text);
    }
    return r;
}

static const char *sniff_name(const void *d, size_t n)
{
    return pl_format_name(pl_sniff(d, n));
}

/* The same picture without shrink-on-load: a JPEG fully decoded into a PNG (EXIF, so its
 * orientation, kept). /transform on it is the exact result of each spec. */
static eu_file lossless_copy(const eu_file *f)
{
    eu_file out = {0};
    VipsImage *im = vips_image_new_from_buffer(f->data, f->len, "", NULL);
    void *buf = NULL;
    size_t len = 0;
    if (im != NULL && vips_pngsave_buffer(im, &buf, &len, "compression", 1, NULL) == 0)
        out.data = buf, out.len = len;
    vips_error_clear();
    if (im)
        g_object_unref(im);
    return out;
}

#define ACCEPT "application/json, image/webp"

/* Every spec as renditions over f (groups of at most 16, one request each) against /transform
 * alone: the same type and size as alone on f, and within 39.5 dB PSNR of alone on exact (the same
 * picture with no shrink-on-load; f itself for PNG). Lossy palettes (gif, palette=true) dither:
 * 30 dB. The PSNR against alone on f is shown too: where alone's JPEG DCT shrink-on-load differs
 * from the shared decode's, alone itself is that far from the exact picture. */
static void compare_all(const char *what, const eu_file *f, const eu_file *exact, const char *const *specs, int n)
{
    for (int g = 0; g < n; g += PL_RENDITIONS_MAX) {
        int m = n - g < PL_RENDITIONS_MAX ? n - g : PL_RENDITIONS_MAX;
        char *q = query(specs + g, m, NULL);
        pl_result res;
        pl_error err;
        json_t *doc = NULL;
        int r = eu_run_full(q, f->data, f->len, ACCEPT, NULL, NULL, &res, &err);
        if (r == 0)
            doc = json_loadb(res.data, res.len, 0, NULL);
        ok(r == 0 && doc != NULL, "%s: renditions %d..%d run", what, g + 1, g + m);
        json_t *list = json_object_get(doc, "renditions");
        for (int i = 0; i < m; i++) {
            const char *spec = specs[g + i];
            json_t *item = json_array_get(list, (size_t)i);
            const char *b64 = json_string_value(json_object_get(item, "data"));
            pl_result alone, ref;
            pl_error aerr, rerr;
            char *ts = g_strdup_printf("transform?%s", spec);
            int ar = eu_run_full(ts, f->data, f->len, ACCEPT, NULL, NULL, &alone, &aerr);
            unsigned sw = pl_engine_set_switches(PL_NO_FAST_PNG |
                                                 PL_NO_TRANSPOSED_REDUCE); /* exact: no PNG shrink-on-load either, vips_resize */
            int rr = eu_run_full(ts, exact->data, exact->len, ACCEPT, NULL, NULL, &ref, &rerr);
            pl_engine_set_switches(sw);
            if (b64 == NULL || ar != 0 || rr != 0) {
                ok(0, "%s [%s]: all ran (rendition %s, alone %s)", what, spec, b64 ? "ok" : "failed",
                   ar == 0 ? "ok" : aerr.message);
                char *t = item ? json_dumps(item, JSON_COMPACT) : NULL;
                diag("  %s", t ? t : "(no item)");
                free(t);
            } else {
                gsize dl = 0;
                guchar *d = g_base64_decode(b64, &dl);
                const char *t1 = sniff_name(d, dl), *t2 = sniff_name(alone.data, alone.len);
                int w = (int)json_integer_value(json_object_get(item, "width"));
                int h = (int)json_integer_value(json_object_get(item, "height"));
                eu_img di = eu_decode(&(pl_result){.data = d, .len = dl});
                ok(t1 && t2 && strcmp(t1, t2) == 0 && w == alone.width && h == alone.height && di.width == w && di.page_height == h,
                   "%s [%s]: %s %dx%d, alone %s %dx%d", what, spec, t1 ? t1 : "?", w, h, t2 ? t2 : "?", alone.width, alone.height);
                double db = eu_psnr(d, dl, ref.data, ref.len), db_alone = eu_psnr(d, dl, alone.data, alone.len);
                /* 39.5: a JPEG's DCT shrink-on-load and the reducev path's coefficients together (the
                 * orientation 6 fixture's 200 px cover: 39.9 dB) */
                double floor_db = strstr(spec, "type=gif") || strstr(spec, "palette=true") ? 30.0 : 39.5;
                ok(db >= floor_db, "%s [%s]: %.1f dB from exact (>= %.0f); %.1f dB from alone", what, spec, db, floor_db, db_alone);
                g_free(d);
            }
            pl_result_clear(&alone);
            pl_result_clear(&ref);
            g_free(ts);
        }
        json_decref(doc);
        pl_result_clear(&res);
        g_free(q);
    }
}

static void test_grammar(void)
{
    pl_plan *plan = g_new0(pl_plan, 1);
    pl_error err;
    int r = pl_plan_parse_string("renditions?r=w%3D640%26type%3Dwebp%26q%3D75%26name%3Dhero&r=w%3D320&placeholders=blurhash,color&"
                                 "blurhash=3x2&info=true",
                                 plan, &err);
    ok(r == 0, "grammar: two outputs, placeholders, info parse");
    is_int(plan->op, PL_OP_RENDITIONS, "grammar: op renditions");
    is_int(plan->n_steps, 1, "grammar: one step (the top-level query)");
    is_int(plan->rend.n, 2, "grammar: two renditions");
    is_str(plan->rend.names[0], "hero", "grammar: name= taken out of r=");
    is_str(plan->rend.names[1], "r2", "grammar: default name r2");
    is_int(plan->rend.steps[0].params.width, 640, "grammar: r1 width");
    is_int(plan->rend.steps[0].params.type, PL_FMT_WEBP, "grammar: r1 type");
    is_int(plan->rend.steps[0].params.quality, 75, "grammar: r1 quality");
    is_int(plan->rend.steps[0].op, PL_OP_TRANSFORM, "grammar: outputs are transform steps");
    is_int(plan->rend.placeholders, PL_PH_BLURHASH | PL_PH_COLOR, "grammar: placeholders");
    ok(plan->rend.blurhash_x == 3 && plan->rend.blurhash_y == 2, "grammar: blurhash=3x2");
    ok(plan->rend.info && !plan->rend.all, "grammar: info=true, all default false");

    static const struct {
        const char *q, *want[3];
        pl_code code;
    } bad[] = {
        {"renditions?r=w%3D640&r=w%3Dabc%26name%3Dthumb", {"rendition 2", "\"thumb\"", "width"}, PL_E_PARAM},
        {"renditions?r=w%3D640%26wdith%3D3", {"rendition 1", "\"r1\"", "did you mean"}, PL_E_PARAM},
        {"renditions?r=fit%3Dcover%26w%3D300", {"rendition 1", "fit=cover", "height"}, PL_E_PARAM},
        {"renditions?r=w%3D1%26name%3Da&r=w%3D2%26name%3Da", {"rendition 2", "\"a\"", "rendition 1"}, PL_E_PARAM},
        {"renditions?r=w%3D1%26name%3Da%2Fb", {"rendition 1", "name", "letters"}, PL_E_PARAM},
        {"renditions?w=640",
         {"unknown parameter \"w\"", "known: r, placeholders, blurhash, info, all, field, key, sign, expires (", "renditions"},
         PL_E_PARAM},
        {"renditions?r=w%3D1&placeholders=blurhash,sparkles",
         {"placeholders", "sparkles", "a comma-separated list of blurhash, thumbhash, color, lqip"},
         PL_E_PARAM},
        {"renditions?r=w%3D1%26operations%3D1", {"rendition 1", "\"operations\" belongs to /pipeline", "transform"}, PL_E_PARAM},
        {"renditions?r=w%3D1%25zz", {"rendition 1", "invalid URL escape", "%zz"}, PL_E_PARAM},
        {"renditions?r=w%3D1&blurhash=10x3", {"blurhash", "10x3", "1 to 9"}, PL_E_PARAM},
        {"renditions?r=w%3D1&info=maybe", {"info", "maybe", "boolean"}, PL_E_PARAM},
        {"renditions?", {"Missing required param: r", "placeholders", "info"}, PL_E_MISSING_PARAM},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = pl_plan_parse_string(bad[i].q, plan, &err);
        bool has = r == -1 && err.code == bad[i].code;
        for (int k = 0; has && k < 3; k++)
            has = strstr(err.message, bad[i].want[k]) != NULL;
        ok(has, "grammar: %s refused precisely", bad[i].q);
        if (!has)
            diag("  got %d %s: %s", r, pl_error_name(err.code), err.message);
    }
    GString *many = g_string_new("renditions?");
    for (int i = 0; i < PL_RENDITIONS_MAX + 1; i++)
        g_string_append_printf(many, "%sr=w%%3D%d", i ? "&" : "", 100 + i);
    r = pl_plan_parse_string(many->str, plan, &err);
    ok(r == -1 && strstr(err.message, "at most 16") != NULL, "grammar: 17 outputs refused (%s)", err.message);
    g_string_truncate(many, many->len - strlen("&r=w%3D116"));
    r = pl_plan_parse_string(many->str, plan, &err);
    ok(r == 0 && plan->rend.n == 16, "grammar: 16 outputs accepted");
    g_string_free(many, TRUE);
    r = pl_plan_parse_string("renditions?placeholders=thumbhash", plan, &err);
    ok(r == 0 && plan->rend.n == 0 && plan->rend.placeholders == PL_PH_THUMBHASH, "grammar: placeholders alone are a request");
    r = pl_plan_parse_string("renditions?r=w%3D300%26text%3Dhello%2520world%26name%3Dwm", plan, &err);
    ok(r == 0 && strcmp(plan->rend.steps[0].params.text, "hello world") == 0, "grammar: inner values decoded once more (text)");
    ok(pl_renditions_wants_json("application/json") && pl_renditions_wants_json("multipart/mixed, application/json;q=0.5") &&
           !pl_renditions_wants_json("application/json;q=0") && !pl_renditions_wants_json("*/*") && !pl_renditions_wants_json(NULL),
       "grammar: Accept picks the JSON form");
    g_free(plan);
}

/* pl_renditions_parse_specs: outputs held apart (batch's --do) give the r= plan */
static void test_specs(void)
{
    pl_plan *plan = g_new0(pl_plan, 1), *ref = g_new0(pl_plan, 1);
    pl_error err;
    const char *two[] = {"transform?w=640&type=webp&q=75&name=hero", "/transform?w=320"};
    int r = pl_renditions_parse_specs(two, 2, plan, &err);
    ok(r == 0 && plan->op == PL_OP_RENDITIONS && plan->n_steps == 1 && plan->rend.n == 2, "specs: two outputs parse");
    ok(r == 0 && strcmp(plan->rend.names[0], "hero") == 0 && strcmp(plan->rend.names[1], "r2") == 0, "specs: name= and default r2");
    ok(!plan->rend.all && !plan->rend.info && plan->rend.placeholders == 0, "specs: all, info and placeholders off");
    r = pl_plan_parse_string("renditions?r=w%3D640%26type%3Dwebp%26q%3D75%26name%3Dhero&r=w%3D320", ref, &err);
    ok(r == 0 && plan->rend.steps[0].params.width == 640 && plan->rend.steps[0].params.type == PL_FMT_WEBP &&
           plan->rend.steps[0].params.quality == 75 && plan->rend.steps[1].params.width == 320 &&
           memcmp(&plan->rend.steps[1].params, &ref->rend.steps[1].params, sizeof(pl_params)) == 0 &&
           memcmp(&plan->rend.steps[0].params, &ref->rend.steps[0].params, sizeof(pl_params)) == 0,
       "specs: the same steps as the r= query");
    static const struct {
        const char *specs[2];
        int n;
        const char *want[2];
    } bad[] = {
        {{"fit?width=300&height=300", NULL}, 1, {"output 1", "transform?"}},
        {{"transform?w=1&name=a", "transform?w=2&name=a"}, 2, {"rendition 2", "\"a\""}},
        {{"transform?w=1", "transform?w=abc"}, 2, {"rendition 2", "width"}},
        {{NULL, NULL}, 0, {"0 outputs", "1 to 16"}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = pl_renditions_parse_specs(bad[i].specs, bad[i].n, plan, &err);
        ok(r == -1 && err.code == PL_E_PARAM && strstr(err.message, bad[i].want[0]) && strstr(err.message, bad[i].want[1]),
           "specs: case %zu refused precisely (%s)", i + 1, err.message);
    }
    g_free(plan);
    g_free(ref);
}

/* JSON form with every placeholder and info */
static void test_json_form(const eu_file *jpg)
{
    static const char *const specs[] = {"w=640&type=webp&q=75&name=hero", "w=320&type=jpeg&q=80"};
    char *q = query(specs, 2, "placeholders=blurhash,thumbhash,color,lqip&blurhash=5x4&info=true");
    pl_result res;
    pl_error err;
    json_t *doc = NULL;
    ok(run_json(q, jpg, NULL, &doc, &res, &err) == 0 && doc != NULL, "json: runs");
    is_str(res.mime, "application/json", "json: Content-Type application/json with Accept: application/json");
    ok(res.vary_accept, "json: the answer varies on Accept");
    json_t *ph = json_object_get(doc, "placeholders");
    const char *bh = json_string_value(json_object_get(ph, "blurhash"));
    ok(bh != NULL && strlen(bh) == 4 + 2 * (5 * 4 - 1) + 2 && bh[0] == 'V',
       "json: blurhash 5x4 has 44 characters and the size flag V (%s)", bh ? bh : "null");
    const char *th = json_string_value(json_object_get(ph, "thumbhash"));
    gsize thn = 0;
    guchar *thb = th ? g_base64_decode(th, &thn) : NULL;
    ok(thb != NULL && thn >= 5 + 10 && thn <= 32 && (thb[4] & 0x80) != 0, "json: thumbhash decodes, %zu bytes, landscape flag",
       (size_t)thn);
    g_free(thb);
    const char *col = json_string_value(json_object_get(ph, "color"));
    ok(col != NULL && strlen(col) == 7 && col[0] == '#' && strspn(col + 1, "0123456789abcdef") == 6, "json: color %s",
       col ? col : "null");
    json_t *lq = json_object_get(ph, "lqip");
    const char *src = json_string_value(json_object_get(lq, "src"));
    static const char prefix[] = "data:image/webp;base64,";
    ok(src != NULL && strncmp(src, prefix, sizeof(prefix) - 1) == 0, "json: lqip is a WebP data URI");
    if (src != NULL && strncmp(src, prefix, sizeof(prefix) - 1) == 0) {
        gsize n = 0;
        guchar *w = g_base64_decode(src + sizeof(prefix) - 1, &n);
        eu_img d = eu_decode(&(pl_result){.data = w, .len = n});
        int big = VIPS_MAX(d.width, d.height);
        ok(d.ok && pl_sniff(w, n) == PL_FMT_WEBP && big >= 16 && big <= 32 &&
               d.width == json_integer_value(json_object_get(lq, "width")) &&
               d.height == json_integer_value(json_object_get(lq, "height")),
           "json: lqip decodes, %dx%d, longest side in 16..32", d.width, d.height);
        ok(memmem(w, n, "EXIF", 4) == NULL && memmem(w, n, "ICCP", 4) == NULL, "json: lqip carries no metadata");
        g_free(w);
    }
    json_t *info = json_object_get(doc, "info");
    ok(json_integer_value(json_object_get(info, "width")) == 1600 && json_integer_value(json_object_get(info, "height")) == 1203 &&
           strcmp(json_string_value(json_object_get(info, "type")) ?: "", "jpeg") == 0,
       "json: info has the original's facts");
    json_t *list = json_object_get(doc, "renditions");
    ok(json_array_size(list) == 2 &&
           strcmp(json_string_value(json_object_get(json_array_get(list, 0), "name")) ?: "", "hero") == 0 &&
           strcmp(json_string_value(json_object_get(json_array_get(list, 1), "type")) ?: "", "jpeg") == 0 &&
           json_integer_value(json_object_get(json_array_get(list, 1), "width")) == 320,
       "json: renditions in request order, named, typed");
    json_decref(doc);
    pl_result_clear(&res);
    g_free(q);

    ok(run_json("renditions?placeholders=color", jpg, NULL, &doc, &res, &err) == 0 &&
           json_array_size(json_object_get(doc, "renditions")) == 0 &&
           json_string_value(json_object_get(json_object_get(doc, "placeholders"), "color")) != NULL,
       "json: placeholders alone");
    json_decref(doc);
    pl_result_clear(&res);
}

/* find "name: value" in a part's header block */
static bool part_header(const char *h, size_t n, const char *name, char *out, size_t size)
{
    size_t k = strlen(name);
    for (const char *p = h; p + k + 2 < h + n; p++)
        if ((p == h || p[-1] == '\n') && g_ascii_strncasecmp(p, name, k) == 0 && p[k] == ':') {
            const char *v = p + k + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t l = e ? (size_t)(e - v) : 0;
            if (l >= size)
                l = size - 1;
            memcpy(out, v, l);
            out[l] = '\0';
            return true;
        }
    return false;
}

/* multipart form: a JSON part first, then one part per output with its headers */
static void test_multipart(const eu_file *jpg)
{
    static const char *const specs[] = {"w=640&type=webp&name=hero", "w=320&type=jpeg", "areawidth=5000&areaheight=10&type=png"};
    char *q = query(specs, 3, "placeholders=blurhash");
    pl_result res;
    pl_error err;
    int r = eu_run_full(q, jpg->data, jpg->len, NULL, NULL, NULL, &res, &err);
    static const char ct[] = "multipart/mixed; boundary=";
    ok(r == 0 && res.mime != NULL && strncmp(res.mime, ct, sizeof(ct) - 1) == 0, "multipart: Content-Type %s",
       res.mime ? res.mime : "null");
    if (r != 0 || res.mime == NULL) {
        g_free(q);
        return;
    }
    char delim[128];
    snprintf(delim, sizeof(delim), "--%s", res.mime + sizeof(ct) - 1);
    const char *body = res.data, *end = body + res.len;
    int parts = 0;
    const char *p = body;
    ok(res.len > strlen(delim) && memcmp(body, delim, strlen(delim)) == 0, "multipart: the body opens with the boundary");
    char closing[140];
    snprintf(closing, sizeof(closing), "%s--\r\n", delim);
    ok(res.len > strlen(closing) && memcmp(end - strlen(closing), closing, strlen(closing)) == 0,
       "multipart: the body ends with the closing boundary");
    static const struct {
        const char *type, *file;
        int w;
    } want[] = {{"application/json", "meta.json", 0},
                {"image/webp", "hero.webp", 640},
                {"image/jpeg", "r2.jpg", 320},
                {"application/json", "r3.json", 0}};
    while (p != NULL && p < end && parts < 4) {
        const char *hs = p + strlen(delim) + 2;
        const char *he = g_strstr_len(hs, end - hs, "\r\n\r\n");
        if (he == NULL)
            break;
        char v[256], len_s[32];
        size_t hl = (size_t)(he - hs) + 2;
        bool got = part_header(hs, hl, "Content-Type", v, sizeof(v));
        ok(got && strcmp(v, want[parts].type) == 0, "multipart: part %d Content-Type %s", parts + 1, got ? v : "none");
        char disp[256];
        got = part_header(hs, hl, "Content-Disposition", disp, sizeof(disp));
        ok(got && strncmp(disp, "inline;", 7) == 0 && strstr(disp, want[parts].file) != NULL, "multipart: part %d %s", parts + 1,
           got ? disp : "no Content-Disposition");
        size_t blen = part_header(hs, hl, "Content-Length", len_s, sizeof(len_s)) ? (size_t)atol(len_s) : 0;
        const char *b = he + 4;
        ok(blen > 0 && b + blen + 2 <= end && memcmp(b + blen, "\r\n", 2) == 0 && memcmp(b + blen + 2, delim, strlen(delim)) == 0,
           "multipart: part %d Content-Length %zu ends at the next boundary", parts + 1, blen);
        if (want[parts].w > 0) {
            eu_img d = eu_decode(&(pl_result){.data = (void *)b, .len = blen});
            char iw[32] = "", ih[32] = "";
            part_header(hs, hl, "Image-Width", iw, sizeof(iw));
            part_header(hs, hl, "Image-Height", ih, sizeof(ih));
            ok(d.ok && d.width == want[parts].w && atoi(iw) == d.width && atoi(ih) == d.height,
               "multipart: part %d decodes %dx%d, Image-Width %s, Image-Height %s", parts + 1, d.width, d.height, iw, ih);
        } else if (parts == 0) {
            json_t *m = json_loadb(b, blen, 0, NULL);
            ok(m != NULL && json_string_value(json_object_get(json_object_get(m, "placeholders"), "blurhash")) != NULL &&
                   json_array_size(json_object_get(m, "renditions")) == 3,
               "multipart: the JSON part has the placeholders and the list");
            json_decref(m);
        } else {
            json_t *e = json_loadb(b, blen, 0, NULL);
            char st[16] = "";
            part_header(hs, hl, "Image-Status", st, sizeof(st));
            ok(e != NULL && json_integer_value(json_object_get(e, "status")) == 400 &&
                   strcmp(json_string_value(json_object_get(e, "error")) ?: "", "operation_failed") == 0 &&
                   strstr(json_string_value(json_object_get(e, "message")) ?: "", "extract") != NULL && atoi(st) == 400,
               "multipart: the failed output's part is its error JSON, status 400 named (Image-Status %s)", st);
            json_decref(e);
        }
        parts++;
        p = b + blen + 2;
    }
    is_int(parts, 4, "multipart: one JSON part and three output parts");
    pl_result_clear(&res);
    g_free(q);
}

/* decoded once at the scale the largest output needs; smaller outputs from the outputs above */
static void test_sources(const eu_file *jpg)
{
    static const char *const specs[] = {
        "w=320&type=png&name=small",        "w=640&type=webp&name=mid",
        "w=640&type=jpeg&name=mid-jpg",     "w=200&h=200&fit=cover&type=jpeg&name=square",
        "w=150&sigma=1&type=png&name=soft", "areawidth=300&areaheight=200&left=10&top=10&type=png&name=cut"};
    char *q = query(specs, 6, "placeholders=color");
    pl_result res;
    pl_error err;
    json_t *doc = NULL;
    ok(run_json(q, jpg, NULL, &doc, &res, &err) == 0, "sources: runs");
    json_t *dec = json_object_get(doc, "decoded");
    /* the extract needs the original coordinates: full size */
    ok(json_integer_value(json_object_get(dec, "width")) == 1600 && json_integer_value(json_object_get(dec, "height")) == 1203,
       "sources: an extract makes the one decode full size");
    json_t *list = json_object_get(doc, "renditions");
    static const char *const want[] = {"mid", "decoded", "mid", "small", "small", "decoded"};
    for (int i = 0; i < 6; i++) {
        const char *got = json_string_value(json_object_get(json_array_get(list, (size_t)i), "source"));
        ok(got != NULL && strcmp(got, want[i]) == 0, "sources: %s starts from %s (got %s)", specs[i], want[i], got ? got : "null");
    }
    json_decref(doc);
    pl_result_clear(&res);
    g_free(q);

    /* without the extract: one decode at the shrink-on-load scale of the largest output (1/2: 800 px) */
    q = query(specs, 2, NULL);
    ok(run_json(q, jpg, NULL, &doc, &res, &err) == 0, "sources: runs without the extract");
    dec = json_object_get(doc, "decoded");
    ok(json_integer_value(json_object_get(dec, "width")) == 800, "sources: decoded once at 1/2 (%d px wide) for 640 and 320",
       (int)json_integer_value(json_object_get(dec, "width")));
    json_decref(doc);
    pl_result_clear(&res);
    g_free(q);
    ok(run_json("renditions?placeholders=blurhash", jpg, NULL, &doc, &res, &err) == 0 &&
           json_integer_value(json_object_get(json_object_get(doc, "decoded"), "width")) == 200,
       "sources: placeholders alone decode at 1/8 (200 px covers 100)");
    json_decref(doc);
    pl_result_clear(&res);
}

/* the set's output-pixel limit, all=true, deadline */
static void test_limits(const eu_file *jpg)
{
    static const char *const specs[] = {"w=640&type=png&name=big", "w=320&type=png&name=small"};
    pl_limits lim;
    pl_limits_default(&lim);
    lim.max_output_pixels = 640 * 481 + 1000; /* room for the first only */
    char *q = query(specs, 2, NULL);
    pl_result res;
    pl_error err;
    json_t *doc = NULL;
    ok(run_json(q, jpg, &lim, &doc, &res, &err) == 0, "limits: a set over the pixel limit still answers");
    json_t *list = json_object_get(doc, "renditions");
    json_t *big = json_array_get(list, 0), *small = json_array_get(list, 1);
    ok(json_integer_value(json_object_get(big, "status")) == 200 && json_object_get(big, "data") != NULL,
       "limits: the first output is made");
    json_t *e = json_object_get(small, "error");
    ok(json_integer_value(json_object_get(small, "status")) == 413 &&
           strcmp(json_string_value(json_object_get(e, "error")) ?: "", "image_too_large") == 0 &&
           strstr(json_string_value(json_object_get(e, "message")) ?: "", "whole set") != NULL,
       "limits: the output over the set's limit fails with 413 image_too_large");
    json_decref(doc);
    pl_result_clear(&res);
    g_free(q);

    q = query(specs, 2, "all=true");
    int r = eu_run_full(q, jpg->data, jpg->len, "application/json", &lim, NULL, &res, &err);
    ok(r == -1 && err.code == PL_E_TOO_MANY_PIXELS && strstr(err.message, "rendition 2") && strstr(err.message, "small") &&
           strstr(err.message, "all=true"),
       "limits: all=true fails the request, naming the rendition (%s)", err.message);
    ok(res.data == NULL, "limits: no body on failure");
    g_free(q);

    pl_control ctl = {.deadline_us = g_get_monotonic_time() - 1};
    atomic_init(&ctl.cancelled, 0);
    q = query(specs, 2, NULL);
    r = eu_run_full(q, jpg->data, jpg->len, NULL, NULL, &ctl, &res, &err);
    ok(r == -1 && err.code == PL_E_DEADLINE, "limits: a passed deadline fails the whole set (%s)", pl_error_name(err.code));
    g_free(q);
}

/* With two libvips threads per image a second thread shares the encodes: the answer has the
 * same bytes as with one, and a failing encode (the AVIF over the encode budget, the third made)
 * is reported as if the outputs had run one by one. */
static void test_threads(const eu_file *jpg)
{
    static const char *const specs[] = {"w=640&type=webp&q=75&name=a", "w=640&type=jpeg&q=80&name=b", "w=400&type=avif&name=c",
                                        "w=320&type=webp&q=75&name=d", "w=320&type=jpeg&q=80&name=e"};
    pl_limits lim;
    pl_limits_default(&lim);
    lim.max_heif_encode_ms = 1;
    char *q = query(specs, 5, "placeholders=blurhash,color");
    pl_result one = {0}, two = {0};
    pl_error e1, e2;
    vips_concurrency_set(1);
    int r1 = eu_run_full(q, jpg->data, jpg->len, NULL, &lim, NULL, &one, &e1);
    vips_concurrency_set(2);
    int r2 = eu_run_full(q, jpg->data, jpg->len, NULL, &lim, NULL, &two, &e2);
    ok(r1 == 0 && r2 == 0 && one.len > 20000 && one.len == two.len && memcmp(one.data, two.data, one.len) == 0,
       "threads: two libvips threads answer the same bytes as one (%zu and %zu bytes)", one.len, two.len);
    ok(r2 == 0 && memmem(two.data, two.len, "max-heif-encode-ms", 18) && memmem(two.data, two.len, "Image-Status: 413", 17),
       "threads: the AVIF over the encode budget fails its own part with 413");
    pl_result_clear(&one);
    pl_result_clear(&two);
    g_free(q);

    q = query(specs, 5, "all=true");
    r2 = eu_run_full(q, jpg->data, jpg->len, NULL, &lim, NULL, &two, &e2);
    ok(r2 == -1 && e2.code == PL_E_TOO_MANY_PIXELS && strstr(e2.message, "rendition 3 (\"c\")") != NULL &&
           strstr(e2.message, "all=true") != NULL,
       "threads: all=true fails the request naming the failed encode (%s)", e2.message);
    ok(two.data == NULL, "threads: no body on failure");
    vips_concurrency_set(1);
    g_free(q);
}

/* an animation gives its first frame; an EXIF-rotated input gives upright placeholders */
static void test_inputs(void)
{
    eu_file gif = eu_read("edge/animated-loop3.gif"), rot = eu_read("edge/exif-orientation-6.jpg");
    pl_result res;
    pl_error err;
    json_t *doc = NULL;
    static const char *const gspec[] = {"w=40&type=gif", "w=30&type=png"};
    char *q = query(gspec, 2, NULL);
    ok(run_json(q, &gif, NULL, &doc, &res, &err) == 0, "gif: an animation runs");
    json_t *it = json_array_get(json_object_get(doc, "renditions"), 0);
    const char *b64 = json_string_value(json_object_get(it, "data"));
    gsize n = 0;
    guchar *d = b64 ? g_base64_decode(b64, &n) : NULL;
    eu_img di = eu_decode(&(pl_result){.data = d, .len = n});
    ok(di.ok && di.width == 40 && di.pages == 1, "gif: the first frame, %d wide, %d page(s)", di.width, di.pages);
    g_free(d);
    json_decref(doc);
    pl_result_clear(&res);
    g_free(q);

    ok(run_json("renditions?placeholders=thumbhash,lqip", &rot, NULL, &doc, &res, &err) == 0, "orientation 6: placeholders");
    json_t *lq = json_object_get(json_object_get(doc, "placeholders"), "lqip");
    const char *th = json_string_value(json_object_get(json_object_get(doc, "placeholders"), "thumbhash"));
    gsize thn = 0;
    guchar *thb = th ? g_base64_decode(th, &thn) : NULL;
    /* stored 450x600, upright 600x450: landscape */
    ok(json_integer_value(json_object_get(lq, "width")) == 32 && json_integer_value(json_object_get(lq, "height")) == 24 &&
           thb != NULL && thn > 4 && (thb[4] & 0x80) != 0,
       "orientation 6: the LQIP (32x24) and the ThumbHash (landscape flag) are upright");
    g_free(thb);
    json_decref(doc);
    pl_result_clear(&res);
    eu_free(&gif);
    eu_free(&rot);
}

int main(void)
{
    if (eu_init())
        return 1;
    test_grammar();
    test_specs();

    eu_file jpg = eu_read("photos/FreshFlower-1600x1203.jpg");
    eu_file rot = eu_read("edge/exif-orientation-6.jpg");
    eu_file png = eu_read("edge/alpha-blackbug.png");

    /* every operation kind of the transform grammar */
    static const char *const kinds[] = {
        "w=640&type=webp&q=75",
        "w=640&type=jpeg&q=80",
        "w=320&type=png",
        "h=300&type=png",
        "w=400&h=400&type=png",
        "w=400&h=400&fit=outside&type=png",
        "w=300&h=300&fit=cover&type=png",
        "w=300&h=200&fit=cover&gravity=north&type=png",
        "w=300&h=200&fit=cover&gravity=southeast&type=png",
        "w=300&h=300&fit=cover&gravity=attention&type=png",
        "w=300&h=300&fit=cover&gravity=entropy&type=png",
        "w=400&h=400&fit=contain&bg=255,0,0&type=png",
        "w=300&h=500&fit=fill&type=png",
        "w=300&h=100&force=true&type=png",
        "w=200&dpr=2&type=png",
        "areawidth=400&areaheight=300&left=100&top=50&w=200&type=png",
        "trim=10&w=300&type=png",
        "w=300&rotate=90&type=png",
        "w=300&rotate=270&type=png",
        "w=300&flip=true&type=png",
        "w=300&flop=true&type=png",
        "w=300&sigma=2&type=png",
        "w=300&sharpen=1.5&type=png",
        "w=300&grayscale=true&type=png",
        "w=400&text=imgpipe&opacity=0.5&color=255,255,255&type=png",
        "w=2000&enlarge=true&type=jpeg&q=90",
        "w=3000&type=png",
        "type=webp&q=60",
        "w=500&type=avif&q=50",
        "w=300&type=webp&lossless=true",
        "w=300&type=gif",
        "w=300&type=tiff",
        "w=300&type=png&palette=true",
        "w=300&type=jpeg&interlace=true&strip=false",
        "w=300&aspectratio=4:3&type=png",
        "w=640&type=auto",
    };
    int nk = (int)(sizeof(kinds) / sizeof(kinds[0]));
    test_json_form(&jpg);
    test_multipart(&jpg);
    test_sources(&jpg);
    test_inputs();
    test_limits(&jpg);
    test_threads(&jpg);

    eu_file jpg_exact = lossless_copy(&jpg), rot_exact = lossless_copy(&rot);
    compare_all("jpeg", &jpg, &jpg_exact, kinds, nk);
    static const char *const rotated[] = {
        "w=300&type=png",
        "w=200&h=200&fit=cover&type=png",
        "w=300&norotation=true&type=png",
        "w=150&type=png",
        "areawidth=100&areaheight=100&left=10&top=20&type=png",
        "w=300&rotate=90&type=png",
    };
    compare_all("orientation 6", &rot, &rot_exact, rotated, (int)(sizeof(rotated) / sizeof(rotated[0])));
    static const char *const alpha[] = {
        "w=200&type=png", "w=100&type=webp", "w=150&type=jpeg", "w=120&h=120&fit=contain&type=png", "w=80&sigma=1&type=png",
    };
    compare_all("png alpha", &png, &png, alpha, (int)(sizeof(alpha) / sizeof(alpha[0])));

    eu_free(&jpg_exact);
    eu_free(&rot_exact);
    eu_free(&jpg);
    eu_free(&rot);
    eu_free(&png);
    return tap_done();
}
