/*
 * test_http_renditions: POST /renditions through the real `imgpipe serve`: raw body and multipart
 * upload, the multipart/mixed answer (Content-Type with its boundary, Vary: Accept, every output
 * part decodable), the JSON answer with Accept: application/json, a bad output spec answered 400
 * naming the rendition, and the route in /openapi.json.
 */
#include <jansson.h>
#include <stdbool.h>

#include <string.h>
#include <vips/vips.h>

#include "svc_test.h"

static tsrv srv;
static CURL *curl;
static char *jpg;
static size_t jpg_len;

#define Q "/renditions?r=w%3D320%26type%3Dwebp%26q%3D75%26name%3Dsmall&r=w%3D160%26type%3Djpeg&placeholders=blurhash,color"

static int count(const char *hay, size_t n, const char *needle)
{
    int k = 0;
    size_t l = strlen(needle);
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(hay + i, needle, l) == 0)
            k++;
    return k;
}

int main(void)
{
    static const char *const args[] = {"--workers", "2", NULL};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (VIPS_INIT("test_http_renditions"))
        return 1;
    jpg = t_slurp(tap_fixture("photos/FreshFlower-1600x1203.jpg"), &jpg_len);
    if (!ok(jpg != NULL, "fixture loads") || !ok(tsrv_start(&srv, args, NULL) == 0, "server starts"))
        return tap_done();
    curl = curl_easy_init();
    tresp r;
    char v[512];

    /* raw body, multipart/mixed answer */
    treq q = {.body = jpg, .body_len = jpg_len, .content_type = "image/jpeg"};
    t_do(curl, &srv, Q, &q, &r);
    is_int(r.status, 200, "raw body: 200");
    const char *ct = t_header(&r, "content-type", v, sizeof(v));
    static const char mp[] = "multipart/mixed; boundary=";
    ok(ct != NULL && strncmp(ct, mp, sizeof(mp) - 1) == 0, "Content-Type multipart/mixed with a boundary (%s)", ct ? ct : "none");
    char delim[160] = "";
    if (ct != NULL)
        snprintf(delim, sizeof(delim), "--%s", ct + sizeof(mp) - 1);
    is_int(count(r.body, r.len, delim), 4, "three parts and the closing boundary");
    ok(count(r.body, r.len, "filename=\"small.webp\"") == 1 && count(r.body, r.len, "filename=\"r2.jpg\"") == 1,
       "parts named small.webp and r2.jpg");
    ok(count(r.body, r.len, "\"blurhash\":\"") == 1, "the JSON part carries the blurhash");
    const char *vary = t_header(&r, "vary", v, sizeof(v));
    ok(vary != NULL && strstr(vary, "Accept") != NULL, "Vary: Accept");
    ok(t_header(&r, "server-timing", v, sizeof(v)) != NULL, "Server-Timing present");
    tresp_free(&r);

    /* multipart upload, JSON answer */
    treq qm = {.mp_file = jpg, .mp_file_len = jpg_len, .headers = {"Accept: application/json"}};
    t_do(curl, &srv, Q, &qm, &r);
    is_int(r.status, 200, "multipart upload, Accept: application/json: 200");
    json_t *doc = json_loadb(r.body, r.len, 0, NULL);
    json_t *list = json_object_get(doc, "renditions");
    ok(json_array_size(list) == 2, "JSON: two renditions");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *it = json_array_get(list, i);
        const char *b64 = json_string_value(json_object_get(it, "data"));
        gsize n = 0;
        guchar *d = b64 ? g_base64_decode(b64, &n) : NULL;
        VipsImage *im = d ? vips_image_new_from_buffer(d, n, "", NULL) : NULL;
        ok(im != NULL && im->Xsize == json_integer_value(json_object_get(it, "width")) && im->Xsize == (i == 0 ? 320 : 160),
           "JSON: rendition %zu decodes at its width", i + 1);
        if (im)
            g_object_unref(im);
        vips_error_clear();
        g_free(d);
    }
    ok(json_string_value(json_object_get(json_object_get(doc, "placeholders"), "color")) != NULL, "JSON: color placeholder");
    json_decref(doc);
    tresp_free(&r);

    /* field= picks another multipart part */
    treq qf = {.mp_file = jpg, .mp_file_len = jpg_len, .mp_name = "upload", .headers = {"Accept: application/json"}};
    t_do(curl, &srv, "/renditions?r=w%3D100&field=upload", &qf, &r);
    ok(r.status == 200 && r.body && strstr(r.body, "\"width\":100"), "field=upload reads the part \"upload\" (%ld)", r.status);
    tresp_free(&r);

    /* a bad output spec: 400 naming the rendition */
    t_do(curl, &srv, "/renditions?r=w%3D320&r=w%3D-5%26name%3Dthumb", &q, &r);
    is_int(r.status, 400, "bad spec: 400");
    ok(r.body && strstr(r.body, "rendition 2") && strstr(r.body, "thumb") && strstr(r.body, "bad_parameter"),
       "bad spec: the message names rendition 2 \"thumb\" (%.*s)", (int)r.len, r.body ? r.body : "");
    tresp_free(&r);

    /* OpenAPI */
    t_get(&srv, "/openapi.json", &r);
    doc = json_loadb(r.body, r.len, 0, NULL);
    json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), "/renditions"), "post");
    json_t *content = json_object_get(json_object_get(json_object_get(op, "responses"), "200"), "content");
    ok(op != NULL && json_object_get(content, "multipart/mixed") != NULL && json_object_get(content, "application/json") != NULL,
       "OpenAPI: /renditions answers multipart/mixed and application/json");
    bool has_r = false;
    json_t *params = json_object_get(op, "parameters"), *p;
    size_t i;
    json_array_foreach(params, i, p) has_r = has_r || strcmp(json_string_value(json_object_get(p, "name")) ?: "", "r") == 0;
    ok(has_r, "OpenAPI: /renditions documents r=");
    json_decref(doc);
    tresp_free(&r);

    is_int(tsrv_stop(&srv, 20), 0, "SIGTERM: exit 0");
    tsrv_cleanup(&srv);
    curl_easy_cleanup(curl);
    free(jpg);
    curl_global_cleanup();
    return tap_done();
}
