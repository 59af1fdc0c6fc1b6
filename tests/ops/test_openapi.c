/*
 * test_openapi: the OpenAPI document parses as JSON, is OpenAPI 3.0.x, and matches the code's
 * tables: every PL_OPS operation is a POST route taking an image body, every parameter of
 * pl_param_table() is described (name, type, description, allowed) and listed on the routes the
 * grammar accepts it on (checked on known cases: imaginary routes vs transform's own and aliases),
 * every fixed route is there with its methods, and every $ref resolves.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pl_options.h"
#include "svc_openapi.h"
#include "tap.h"

/* Resolves "#/a/b" in doc; NULL when it does not. */
static json_t *resolve(json_t *doc, const char *ref)
{
    if (strncmp(ref, "#/", 2) != 0)
        return NULL;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", ref + 2);
    json_t *cur = doc;
    char *save = NULL;
    for (char *part = strtok_r(buf, "/", &save); part && cur; part = strtok_r(NULL, "/", &save))
        cur = json_object_get(cur, part);
    return cur;
}

/* Counts $refs under v that do not resolve (first bad one in *bad). */
static int bad_refs(json_t *doc, json_t *v, const char **bad)
{
    int n = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach(v, k, child)
        {
            if (strcmp(k, "$ref") == 0 && json_is_string(child)) {
                if (!resolve(doc, json_string_value(child))) {
                    n++;
                    *bad = json_string_value(child);
                }
            } else {
                n += bad_refs(doc, child, bad);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) n += bad_refs(doc, child, bad);
    }
    return n;
}

/* Does the operation's parameter list reference (or contain) the parameter name? */
static int op_has_param(json_t *doc, json_t *op, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p)
    {
        json_t *ref = json_object_get(p, "$ref");
        json_t *def = ref ? resolve(doc, json_string_value(ref)) : p;
        if (def && json_is_string(json_object_get(def, "name")) &&
            strcmp(json_string_value(json_object_get(def, "name")), name) == 0)
            return 1;
    }
    return 0;
}

int main(void)
{
    size_t len = 0;
    char *text = svc_openapi_json("1.2.3-test", &len);
    if (!ok(text != NULL && len == strlen(text), "document produced, length as stated"))
        return tap_done();
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    if (!ok(doc != NULL, "document parses as JSON")) {
        diag("%s at line %d", jerr.text, jerr.line);
        return tap_done();
    }
    const char *ver = json_string_value(json_object_get(doc, "openapi"));
    ok(ver && strncmp(ver, "3.0.", 4) == 0, "openapi is 3.0.x (%s)", ver ? ver : "absent");
    is_str(json_string_value(json_object_get(json_object_get(doc, "info"), "version")), "1.2.3-test", "info.version is ours");
    is_str(json_string_value(json_object_get(json_object_get(json_object_get(doc, "info"), "license"), "name")), "MIT",
           "info.license is MIT");
    ok(json_array_size(json_object_get(doc, "servers")) > 0 &&
           json_is_string(json_object_get(json_array_get(json_object_get(doc, "servers"), 0), "url")),
       "servers lists at least one url");
    ok(json_is_string(json_object_get(json_object_get(doc, "info"), "title")), "info.title present");

    char *again = svc_openapi_json("ignored", NULL);
    ok(again && strcmp(again, text) == 0, "second call returns the same cached document");
    free(again);

    json_t *paths = json_object_get(doc, "paths");
    json_t *comp = json_object_get(doc, "components");

    /* every operation of the grammar */
    static const struct {
        const char *name;
        int imaginary;
    } ops[] = {
#define PL_X(id, name, imag, pipe) {name, imag},
        PL_OPS(PL_X)
#undef PL_X
    };
    size_t nparams = 0;
    const pl_param_def *defs = pl_param_table(&nparams);
    ok(defs != NULL && nparams > 0, "the grammar's parameter table is available (%zu parameters)", nparams);
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/%s", ops[i].name);
        json_t *post = json_object_get(json_object_get(paths, path), "post");
        if (!ok(post != NULL, "%s has a POST operation", path))
            continue;
        json_t *rb = json_object_get(post, "requestBody");
        if (json_object_get(rb, "$ref"))
            rb = resolve(doc, json_string_value(json_object_get(rb, "$ref")));
        json_t *content = json_object_get(rb, "content");
        json_t *mp = json_object_get(content, "multipart/form-data");
        if (strcmp(ops[i].name, "watermarkimage") == 0) {
            json_t *req = json_object_get(json_object_get(mp, "schema"), "required");
            char *reqs = json_dumps(req, JSON_COMPACT);
            json_t *props = json_object_get(json_object_get(mp, "schema"), "properties");
            ok(mp && json_object_get(props, "file") && json_object_get(props, "image") && reqs && strstr(reqs, "\"file\"") &&
                   strstr(reqs, "\"image\""),
               "%s takes a multipart form with the parts `file` and `image`, both required (%s)", path, reqs ? reqs : "none");
            free(reqs);
        } else {
            ok(json_object_get(content, "image/*") && json_object_get(content, "application/octet-stream") &&
                   json_object_get(json_object_get(json_object_get(mp, "schema"), "properties"), "file"),
               "%s takes image/*, application/octet-stream and multipart `file`", path);
        }
        json_t *resp = json_object_get(post, "responses");
        ok(json_object_get(resp, "200") && json_object_get(resp, "400"), "%s documents 200 and 400", path);
        if (strcmp(ops[i].name, "renditions") == 0) { /* no one image: the sizes are per part */
            json_t *h = json_object_get(json_object_get(resp, "200"), "headers");
            ok(json_object_get(h, "Server-Timing") && json_object_get(h, "X-Request-Id"),
               "%s 200 documents Server-Timing, X-Request-Id", path);
        } else if (strcmp(ops[i].name, "info") != 0) {
            json_t *h = json_object_get(json_object_get(resp, "200"), "headers");
            ok(json_object_get(h, "Image-Width") && json_object_get(h, "Image-Height") && json_object_get(h, "Server-Timing") &&
                   json_object_get(h, "X-Request-Id"),
               "%s 200 documents Image-Width, Image-Height, Server-Timing, X-Request-Id", path);
        }
    }

    /* parameters per route follow the grammar: imaginary's routes take imaginary's names, transform
     * takes every parameter and the short aliases, /pipeline takes operations */
    static const struct {
        const char *route, *name;
        int want;
    } per_route[] = {
        {"/resize", "width", 1},
        {"/resize", "quality", 1},
        {"/resize", "type", 1},
        {"/resize", "sign", 1},
        {"/resize", "fit", 0},
        {"/resize", "dpr", 0},
        {"/resize", "w", 0},
        {"/resize", "q", 0},
        {"/crop", "gravity", 1},
        {"/extract", "areawidth", 1},
        {"/pipeline", "operations", 1},
        {"/pipeline", "w", 0},
        {"/transform", "width", 1},
        {"/transform", "w", 1},
        {"/transform", "h", 1},
        {"/transform", "q", 1},
        {"/transform", "bg", 1},
        {"/transform", "fit", 1},
        {"/transform", "dpr", 1},
        {"/transform", "trim", 1},
        {"/transform", "areawidth", 1},
        {"/transform", "aspectratio", 1},
        {"/transform", "operations", 0},
    };
    for (size_t i = 0; i < sizeof(per_route) / sizeof(per_route[0]); i++) {
        json_t *post = json_object_get(json_object_get(paths, per_route[i].route), "post");
        is_int(op_has_param(doc, post, per_route[i].name), per_route[i].want, "%s %s %s", per_route[i].route,
               per_route[i].want ? "lists" : "does not list", per_route[i].name);
    }
    for (size_t p = 0; p < nparams; p++) {
        int routes = 0;
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
            char path[64];
            snprintf(path, sizeof(path), "/%s", ops[i].name);
            routes += op_has_param(doc, json_object_get(json_object_get(paths, path), "post"), defs[p].name);
        }
        ok(routes > 0, "parameter %s is listed on %d route(s)", defs[p].name, routes);
    }
    {
        json_t *type = json_object_get(json_object_get(json_object_get(comp, "parameters"), "type"), "schema");
        json_t *e = json_object_get(type, "enum");
        int has_jpeg = 0, has_auto = 0;
        size_t i;
        json_t *v;
        json_array_foreach(e, i, v)
        {
            has_jpeg |= strcmp(json_string_value(v), "jpeg") == 0;
            has_auto |= strcmp(json_string_value(v), "auto") == 0;
        }
        ok(has_jpeg && has_auto, "enum parameter type lists its values (jpeg, auto, ...) in schema.enum");
    }

    /* every parameter, described */
    json_t *cparams = json_object_get(comp, "parameters");
    for (size_t p = 0; p < nparams; p++) {
        json_t *d = json_object_get(cparams, defs[p].name);
        const char *type = json_string_value(json_object_get(json_object_get(d, "schema"), "type"));
        const char *want = defs[p].kind == PL_K_INT     ? "integer"
                           : defs[p].kind == PL_K_FLOAT ? "number"
                           : defs[p].kind == PL_K_BOOL  ? "boolean"
                                                        : "string";
        ok(d && strcmp(json_string_value(json_object_get(d, "in")), "query") == 0 && type && strcmp(type, want) == 0 &&
               json_is_string(json_object_get(d, "description")) &&
               (!defs[p].allowed || strstr(json_string_value(json_object_get(d, "description")), defs[p].allowed)),
           "parameter %s: in query, type %s, description with the allowed values", defs[p].name, want);
    }

    /* every fixed route with its methods */
    size_t nfixed = 0;
    const svc_route_info *fixed = svc_openapi_fixed_routes(&nfixed);
    static const char *const must[] = {"/", "/health", "/ready", "/metrics", "/openapi.json"};
    for (size_t m = 0; m < sizeof(must) / sizeof(must[0]); m++) {
        int found = 0;
        for (size_t i = 0; i < nfixed; i++)
            found |= strcmp(fixed[i].path, must[m]) == 0;
        ok(found, "fixed route table has %s", must[m]);
    }
    for (size_t i = 0; i < nfixed; i++) {
        json_t *item = json_object_get(paths, fixed[i].path);
        char methods[64];
        snprintf(methods, sizeof(methods), "%s", fixed[i].methods);
        int all = item != NULL;
        char *save = NULL;
        for (char *m = strtok_r(methods, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
            for (char *c = m; *c; c++)
                *c = (char)(*c | 0x20);
            all &= json_object_get(item, m) != NULL;
        }
        ok(all, "fixed route %s documented for %s", fixed[i].path, fixed[i].methods);
    }
    is_int(json_object_size(paths), sizeof(ops) / sizeof(ops[0]) + nfixed, "no other paths than the operations and fixed routes");

    /* error schema, security schemes, and every $ref resolves */
    json_t *err = json_object_get(json_object_get(comp, "schemas"), "Error");
    json_t *props = json_object_get(err, "properties");
    ok(json_object_get(props, "message") && json_object_get(props, "status") && json_object_get(props, "error"),
       "Error schema has message, status, error");
    json_t *sec = json_object_get(comp, "securitySchemes");
    ok(json_object_get(sec, "ApiKeyHeader") && json_object_get(sec, "ApiKeyQuery") && json_object_get(sec, "Bearer"),
       "security schemes: API-Key header, key= query, Bearer");
    /* every operation has a unique operationId; no response lists 429 (imgpipe never sends it) */
    {
        int missing = 0, dup = 0, with429 = 0, nops = 0;
        json_t *seen = json_object();
        const char *pk, *mk;
        json_t *item, *op;
        json_object_foreach(paths, pk, item)
        {
            json_object_foreach(item, mk, op)
            {
                const char *id = json_string_value(json_object_get(op, "operationId"));
                nops++;
                if (!id || !*id) {
                    missing++;
                    diag("no operationId: %s %s", mk, pk);
                } else if (json_object_get(seen, id)) {
                    dup++;
                    diag("duplicate operationId %s", id);
                } else {
                    json_object_set_new(seen, id, json_true());
                }
                if (json_object_get(json_object_get(op, "responses"), "429"))
                    with429++;
            }
        }
        json_decref(seen);
        ok(nops > 0 && missing == 0 && dup == 0, "every operation (%d) has a unique operationId (%d missing, %d duplicated)", nops,
           missing, dup);
        ok(with429 == 0 && !json_object_get(json_object_get(comp, "responses"), "E429"),
           "no operation lists 429 (%d do); imgpipe answers overload with 503", with429);
    }

    const char *bad = NULL;
    int nbad = bad_refs(doc, doc, &bad);
    ok(nbad == 0, "every $ref resolves (%d bad%s%s)", nbad, bad ? ", e.g. " : "", bad ? bad : "");

    /* the GET forms (url=, file=) of every image route but watermarkimage, which needs an uploaded overlay */
    {
        json_t *paths2 = json_object_get(doc, "paths");
        json_t *get = json_object_get(json_object_get(paths2, "/resize"), "get");
        ok(get != NULL && json_object_get(get, "requestBody") == NULL, "/resize has a GET form without a request body");
        ok(get && op_has_param(doc, get, "url") && op_has_param(doc, get, "file") && op_has_param(doc, get, "width"),
           "GET /resize takes url=, file= and the operation's parameters");
        ok(get && json_object_get(json_object_get(get, "responses"), "304"), "GET /resize documents 304 (If-None-Match)");
        ok(json_object_get(json_object_get(paths2, "/watermarkimage"), "get") == NULL, "/watermarkimage has no GET form");
        ok(json_object_get(json_object_get(json_object_get(doc, "components"), "headers"), "ETag") != NULL,
           "ETag is a documented header");
    }
    json_decref(doc);
    free(text);
    return tap_done();
}
