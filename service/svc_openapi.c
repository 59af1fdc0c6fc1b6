/*
 * svc_openapi: the OpenAPI 3.0 document served at GET /openapi.json, built with jansson from the
 * grammar's tables (PL_OPS for the image routes, pl_param_table() for their query parameters) and
 * from svc_openapi_fixed_routes(), the one list of the service's non-image routes. Because the
 * document is generated from the same tables the router and the parser use, it cannot drift.
 *
 * DESIGN (threads): the document is built once, under a mutex, on the first call; later calls
 * copy the cached text. svc_openapi_fixed_routes() returns a static table (any thread).
 */
#include "svc_openapi.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_options.h"

/* operationId of a fixed route is its method and this name: getHealth, postHealth, getIndex, … */
static const struct {
    const char *path, *id;
} openapi_fixed_ids[] = {
    {"/", "Index"}, {"/health", "Health"}, {"/ready", "Ready"}, {"/metrics", "Metrics"}, {"/openapi.json", "OpenApi"}};

static const svc_route_info openapi_fixed_routes[] = {
    {"/", "GET,POST", "Service name and versions of imgpipe and libvips (imaginary's index)"},
    {"/health", "GET,POST", "Liveness: 200 with process figures while the process runs"},
    {"/ready", "GET", "Readiness: 200 when accepting work, 503 while draining or overloaded"},
    {"/metrics", "GET", "Prometheus metrics (text exposition format 0.0.4)"},
    {"/openapi.json", "GET", "This OpenAPI 3 document"},
};

const svc_route_info *svc_openapi_fixed_routes(size_t *count)
{
    if (count)
        *count = sizeof(openapi_fixed_routes) / sizeof(openapi_fixed_routes[0]);
    return openapi_fixed_routes;
}

/* Short descriptions of the operations; an operation missing here gets a generic summary. */
static const struct {
    const char *name, *summary;
} openapi_op_summaries[] = {
    {"resize", "Resize to width and/or height, keeping the aspect ratio (padded to the box when both are given)"},
    {"enlarge", "Enlarge to exactly width x height (cover and crop unless nocrop)"},
    {"extract", "Extract the area areawidth x areaheight at left, top"},
    {"crop", "Resize to cover width x height and crop at gravity"},
    {"smartcrop", "Crop to width x height around the most interesting area (libvips attention)"},
    {"fit", "Fit inside width x height keeping the aspect ratio"},
    {"thumbnail", "Thumbnail to width x height (stretched when both are given)"},
    {"zoom", "Enlarge by factor"},
    {"rotate", "Rotate by a multiple of 90 degrees (imaginary floors the angle: 45 is 0, 135 is 90; transform takes any angle)"},
    {"autorotate", "Rotate upright from the EXIF orientation"},
    {"flip", "Mirror left to right"},
    {"flop", "Mirror top to bottom"},
    {"convert", "Convert to another format (type)"},
    {"blur", "Gaussian blur (sigma, minampl)"},
    {"watermark", "Draw a text watermark (tiled, or one block with noreplicate; gravity and margin place it)"},
    {"watermarkimage", "Draw the multipart part `image` over the image at left, top, or at gravity and margin"},
    {"pipeline", "Run a JSON list of operations (`operations`) in order"},
    {"info", "Image metadata as JSON"},
    {"transform", "imgpipe's own operation: every parameter at once, applied in the documented pipeline order"},
    {"renditions", "Up to 16 transform outputs and placeholders (BlurHash, ThumbHash, colour, LQIP) from one upload, decoded once"},
};

static const char *openapi_op_summary(const char *name)
{
    for (size_t i = 0; i < sizeof(openapi_op_summaries) / sizeof(openapi_op_summaries[0]); i++)
        if (strcmp(openapi_op_summaries[i].name, name) == 0)
            return openapi_op_summaries[i].summary;
    return "Image operation";
}

static json_t *openapi_ref(const char *ref)
{
    return json_pack("{s:s}", "$ref", ref);
}

/* {"type": t} plus the description */
static json_t *openapi_schema(const char *type)
{
    return json_pack("{s:s}", "type", type);
}

static json_t *openapi_error_schema(void)
{
    return json_pack("{s:s, s:[s,s], s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}}}", "type", "object", "required", "message",
                     "status", "properties", "message", "type", "string", "description", "What went wrong and what to fix",
                     "status", "type", "integer", "description", "The HTTP status code (imaginary's key)", "error", "type",
                     "string", "description", "A stable machine-readable error code (imgpipe addition)");
}

static json_t *openapi_headers(void)
{
    json_t *h = json_pack("{s:{s:s, s:o}, s:{s:s, s:o}, s:{s:s, s:o}, s:{s:s, s:o}, s:{s:s, s:o}}", "Image-Frames", "description",
                          "Animated inputs only: frames out/in, e.g. 5/30 when max-frames, frames= or a still output type kept 5 "
                          "of 30",
                          "schema", openapi_schema("string"), "Image-Width", "description", "Width of the output image in pixels",
                          "schema", openapi_schema("integer"), "Image-Height", "description",
                          "Height of the output image in pixels", "schema", openapi_schema("integer"), "Server-Timing",
                          "description", "Time per stage (queue, decode, process, encode), W3C Server-Timing syntax", "schema",
                          openapi_schema("string"), "X-Request-Id", "description",
                          "The request's X-Request-Id, or one generated by the service; also in the access log", "schema",
                          openapi_schema("string"));
    json_object_set_new(h, "ETag",
                        json_pack("{s:s, s:o}", "description",
                                  "Strong validator of the answer (source bytes, parameters, Accept with type=auto, versions); "
                                  "send it back in If-None-Match to get 304 without processing (setting etag). On url=/file= "
                                  "answers, and on uploads that carry If-None-Match (others are not hashed)",
                                  "schema", openapi_schema("string")));
    json_object_set_new(h, "Cache-Control",
                        json_pack("{s:s, s:o}", "description",
                                  "GET answers with http-cache-ttl set: public, s-maxage=TTL, max-age=TTL, no-transform (TTL 0: "
                                  "private, no-cache, no-store, must-revalidate); errors: no-store",
                                  "schema", openapi_schema("string")));
    json_object_set_new(h, "Expires",
                        json_pack("{s:s, s:o}", "description", "GET answers with http-cache-ttl set: now + TTL (HTTP date)",
                                  "schema", openapi_schema("string")));
    return h;
}

static json_t *openapi_request_body(void)
{
    json_t *bin = json_pack("{s:{s:s, s:s}}", "schema", "type", "string", "format", "binary");
    json_t *content = json_object();
    json_object_set(content, "image/*", bin);
    json_object_set(content, "application/octet-stream", bin);
    json_decref(bin);
    json_object_set_new(content, "multipart/form-data",
                        json_pack("{s:{s:s, s:[s], s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}}}", "schema", "type", "object",
                                  "required", "file", "properties", "file", "type", "string", "format", "binary", "description",
                                  "The image (imaginary's form field)", "image", "type", "string", "format", "binary",
                                  "description",
                                  "Optional overlay: transform's image watermark, or a pipeline watermarkImage step"));
    return json_pack("{s:s, s:b, s:o}", "description",
                     "The input image: the raw body (the type is sniffed from the bytes, the Content-Type is not trusted) "
                     "or a multipart form with the part `file`",
                     "required", 1, "content", content);
}

/* /watermarkimage: a multipart form with the image (`file`) and the overlay (`image`), both required. */
static json_t *openapi_overlay_body(void)
{
    return json_pack("{s:s, s:b, s:{s:{s:{s:s, s:[s,s], s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}}}}}", "description",
                     "A multipart form: the image in the part `file`, the overlay in the part `image` (imaginary fetched "
                     "?image=URL instead)",
                     "required", 1, "content", "multipart/form-data", "schema", "type", "object", "required", "file", "image",
                     "properties", "file", "type", "string", "format", "binary", "description", "The image to draw on", "image",
                     "type", "string", "format", "binary", "description", "The overlay (PNG with alpha, JPEG, …)");
}

/* Error responses shared by the image routes: status -> description. */
static const struct {
    const char *status, *description;
} openapi_error_responses[] = {
    {"400", "Bad parameter or undecodable image (the message names the parameter and what is allowed)"},
    {"401", "Missing or invalid API key"},
    {"403", "URL signature mismatch or expired"},
    {"404", "Unknown route"},
    {"405", "Method not allowed"},
    {"406", "Unsupported input media type, or no acceptable output type"},
    {"413", "Body or pixel count too large"},
    {"415", "Unsupported input type"},
    {"417", "Expect header other than 100-continue"},
    {"422", "Image resolution is too big"},
    {"500", "Internal error"},
    {"503", "Overloaded: the queue is full or the predicted wait too long, or out of memory (see Retry-After)"},
    {"504", "Processing deadline exceeded"},
};

/* components.responses: one shared entry per error status ("E400" …). */
static json_t *openapi_error_components(void)
{
    json_t *out = json_object();
    for (size_t i = 0; i < sizeof(openapi_error_responses) / sizeof(openapi_error_responses[0]); i++) {
        char name[16];
        snprintf(name, sizeof(name), "E%s", openapi_error_responses[i].status);
        json_object_set_new(out, name,
                            json_pack("{s:s, s:{s:{s:o}}}", "description", openapi_error_responses[i].description, "content",
                                      "application/json", "schema", openapi_ref("#/components/schemas/Error")));
    }
    return out;
}

static void openapi_add_error_responses(json_t *responses)
{
    for (size_t i = 0; i < sizeof(openapi_error_responses) / sizeof(openapi_error_responses[0]); i++) {
        char ref[64];
        snprintf(ref, sizeof(ref), "#/components/responses/E%s", openapi_error_responses[i].status);
        json_object_set_new(responses, openapi_error_responses[i].status, openapi_ref(ref));
    }
}

static const char *openapi_kind_type(pl_kind k)
{
    switch (k) {
    case PL_K_INT:
        return "integer";
    case PL_K_FLOAT:
        return "number";
    case PL_K_BOOL:
        return "boolean";
    default:
        return "string";
    }
}

/* "one of a, b, c" (the grammar's wording for enums) -> ["a", "b", "c"]; NULL otherwise. */
static json_t *openapi_enum_values(const char *allowed)
{
    static const char prefix[] = "one of ";
    if (!allowed || strncmp(allowed, prefix, sizeof(prefix) - 1) != 0)
        return NULL;
    json_t *values = json_array();
    const char *p = allowed + sizeof(prefix) - 1;
    while (*p) {
        size_t n = strcspn(p, ",");
        json_array_append_new(values, json_stringn(p, n));
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return values;
}

/* A valid query value for parameter d, percent-encoded. */
static void openapi_sample(const pl_param_def *d, char *out, size_t outlen)
{
    json_t *e;
    switch (d->kind) {
    case PL_K_INT:
    case PL_K_FLOAT:
        snprintf(out, outlen, "1");
        break;
    case PL_K_BOOL:
        snprintf(out, outlen, "true");
        break;
    case PL_K_COLOR:
        snprintf(out, outlen, "1%%2C2%%2C3");
        break;
    case PL_K_RATIO:
        snprintf(out, outlen, "1%%3A1");
        break;
    case PL_K_JSON: /* [{"operation":"resize","params":{"width":10}}] */
        snprintf(out, outlen,
                 "%%5B%%7B%%22operation%%22%%3A%%22resize%%22%%2C%%22params%%22%%3A%%7B%%22width%%22%%3A10%%7D%%7D%%5D");
        break;
    case PL_K_ENUM:
        e = openapi_enum_values(d->allowed);
        snprintf(out, outlen, "%s", e && json_array_size(e) ? json_string_value(json_array_get(e, 0)) : "x");
        json_decref(e);
        break;
    default:
        snprintf(out, outlen, "x");
        break;
    }
}

/* Values for the parameters operations insist on, so that a probe of another parameter parses. */
static const struct {
    const char *name, *value;
    int variant; /* 0 = in both fillers, 1 = only in the first (the second gives one side only) */
} openapi_fillers[] = {
    {"width", "10", 0},
    {"height", "10", 1},
    {"areawidth", "1", 0},
    {"areaheight", "1", 0},
    {"factor", "1", 0},
    {"rotate", "90", 0},
    {"type", "jpeg", 0},
    {"sigma", "1", 0},
    {"text", "x", 0},
    {"image", "x", 0},
    {"operations", "%5B%7B%22operation%22%3A%22resize%22%2C%22params%22%3A%7B%22width%22%3A10%7D%7D%5D", 0},
};

/* Does operation op accept parameter d under this name (its name or alias)? Asked of the grammar
 * itself, so the document follows it: parse "name=<valid value>" alone, then with values for the
 * parameters operations require or pair with it (two variants: both sides, one side), and look
 * at the plan's `set` bit of d. imaginary's routes silently ignore names they do not know;
 * transform refuses them. */
static bool openapi_op_accepts(pl_op op, const pl_param_def *d, const char *name, pl_plan *plan)
{
    char value[256], query[1024];
    pl_error err;
    openapi_sample(d, value, sizeof(value));
    for (int variant = -1; variant <= 1; variant++) {
        size_t n = (size_t)snprintf(query, sizeof(query), "%s=%s", name, value);
        for (size_t i = 0; variant >= 0 && i < sizeof(openapi_fillers) / sizeof(openapi_fillers[0]); i++) {
            if (strcmp(openapi_fillers[i].name, d->name) == 0 || (variant == 1 && openapi_fillers[i].variant == 1))
                continue;
            if (strcmp(openapi_fillers[i].name, "operations") == 0 && op != PL_OP_PIPELINE)
                continue;
            n += (size_t)snprintf(query + n, sizeof(query) - n, "&%s=%s", openapi_fillers[i].name, openapi_fillers[i].value);
        }
        if (n >= sizeof(query))
            return false;
        if (pl_plan_parse(pl_op_name(op), query, n, plan, &err) != 0)
            continue;
        /* pipeline: the query's parameters are in plan->params, the steps come from `operations` */
        if (op == PL_OP_PIPELINE)
            return pl_params_has(&plan->params, d->id);
        return pl_params_has(&plan->params, d->id) || (plan->n_steps > 0 && pl_params_has(&plan->steps[0].params, d->id));
    }
    return false;
}

static json_t *openapi_param(const char *name, const char *desc, const pl_param_def *d)
{
    json_t *schema = openapi_schema(openapi_kind_type(d->kind));
    json_t *values = d->kind == PL_K_ENUM ? openapi_enum_values(d->allowed) : NULL;
    if (values)
        json_object_set_new(schema, "enum", values);
    else if (d->kind == PL_K_COLOR)
        json_object_set_new(schema, "example", json_string("255,255,255"));
    else if (d->kind == PL_K_RATIO)
        json_object_set_new(schema, "pattern", json_string("^[0-9]+:[0-9]+$"));
    else if (d->kind == PL_K_JSON)
        json_object_set_new(schema, "format", json_string("json"));
    json_t *p =
        json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name, "in", "query", "required", 0, "description", desc, "schema", schema);
    if (d->allowed)
        json_object_set_new(p, "x-allowed", json_string(d->allowed));
    return p;
}

/* components.parameters from the grammar's parameter table (aliases as their own entries), and
 * for every operation the list of $refs to the parameters it accepts: refs[op]. */
static void openapi_add_params(json_t *components_params, json_t *refs[PL_OP__COUNT])
{
    size_t n = 0;
    const pl_param_def *defs = pl_param_table(&n);
    pl_plan *plan = malloc(sizeof(*plan));
    for (int op = 0; op < PL_OP__COUNT; op++)
        refs[op] = json_array();
    for (size_t i = 0; plan && defs && i < n; i++) {
        const pl_param_def *d = &defs[i];
        char desc[1024], ref[256];
        snprintf(desc, sizeof(desc), "%s%s%s", d->help ? d->help : "", d->allowed && *d->allowed ? ". Allowed: " : "",
                 d->allowed ? d->allowed : "");
        json_object_set_new(components_params, d->name, openapi_param(d->name, desc, d));
        if (d->alias) {
            char adesc[1200];
            snprintf(adesc, sizeof(adesc), "Short alias of `%s`: %s", d->name, desc);
            json_object_set_new(components_params, d->alias, openapi_param(d->alias, adesc, d));
        }
        for (int op = 0; op < PL_OP__COUNT; op++) {
            if (openapi_op_accepts((pl_op)op, d, d->name, plan)) {
                snprintf(ref, sizeof(ref), "#/components/parameters/%s", d->name);
                json_array_append_new(refs[op], openapi_ref(ref));
            }
            if (d->alias && openapi_op_accepts((pl_op)op, d, d->alias, plan)) {
                snprintf(ref, sizeof(ref), "#/components/parameters/%s", d->alias);
                json_array_append_new(refs[op], openapi_ref(ref));
            }
        }
    }
    free(plan);
}

static json_t *openapi_image_operation(const char *name, int imaginary, json_t *param_refs)
{
    json_t *responses = json_object();
    if (strcmp(name, "info") == 0) {
        json_object_set_new(responses, "200",
                            json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "Image metadata", "content", "application/json",
                                      "schema", "type", "object"));
    } else {
        json_t *img = json_pack("{s:{s:s, s:s}}", "schema", "type", "string", "format", "binary");
        json_t *h = json_object();
        const char *hn[] = {"Image-Width", "Image-Height", "Server-Timing", "X-Request-Id", "ETag", "Cache-Control", "Expires"};
        for (size_t i = 0; i < sizeof(hn) / sizeof(hn[0]); i++) {
            char ref[128];
            snprintf(ref, sizeof(ref), "#/components/headers/%s", hn[i]);
            json_object_set_new(h, hn[i], openapi_ref(ref));
        }
        json_object_set_new(
            responses, "200",
            json_pack("{s:s, s:o, s:{s:o}}", "description", "The processed image", "headers", h, "content", "image/*", img));
    }
    openapi_add_error_responses(responses);
    if (strcmp(name, "info") != 0)
        json_object_set_new(responses, "304",
                            json_pack("{s:s, s:{s:o, s:o}}", "description", "If-None-Match matched the ETag: nothing was processed",
                                      "headers", "ETag", openapi_ref("#/components/headers/ETag"), "Cache-Control",
                                      openapi_ref("#/components/headers/Cache-Control")));
    return json_pack("{s:s, s:s, s:[s], s:O, s:o, s:o, s:b}", "operationId", name, "summary", openapi_op_summary(name), "tags",
                     imaginary ? "imaginary" : "imgpipe", "parameters", param_refs, "requestBody",
                     openapi_ref(strcmp(name, "watermarkimage") == 0 ? "#/components/requestBodies/ImageAndOverlay"
                                                                     : "#/components/requestBodies/Image"),
                     "responses", responses, "x-imaginary-route", imaginary);
}

static json_t *openapi_fixed_operation(const svc_route_info *r, const char *method)
{
    char id[64];
    const char *base = "Route";
    for (size_t i = 0; i < sizeof(openapi_fixed_ids) / sizeof(openapi_fixed_ids[0]); i++)
        if (strcmp(openapi_fixed_ids[i].path, r->path) == 0)
            base = openapi_fixed_ids[i].id;
    snprintf(id, sizeof(id), "%s%s", method, base);
    const char *ctype = "application/json";
    if (strcmp(r->path, "/metrics") == 0)
        ctype = "text/plain; version=0.0.4";
    json_t *responses = json_pack("{s:{s:s, s:{s:{}}}}", "200", "description", r->summary, "content", ctype);
    if (strcmp(r->path, "/ready") == 0)
        json_object_set_new(responses, "503",
                            json_pack("{s:s, s:{s:{s:o}}}", "description", "Not ready (draining or overloaded)", "content",
                                      "application/json", "schema", openapi_ref("#/components/schemas/Error")));
    json_object_set_new(responses, "401",
                        json_pack("{s:s, s:{s:{s:o}}}", "description", "Missing or invalid API key", "content", "application/json",
                                  "schema", openapi_ref("#/components/schemas/Error")));
    return json_pack("{s:s, s:s, s:[s], s:o}", "operationId", id, "summary", r->summary, "tags", "service", "responses", responses);
}

/* /renditions: its own query (r= repeated, each a URL-encoded transform query) and a multipart or
 * JSON answer, so it is described here rather than from the parameter table. */
static json_t *openapi_renditions_operation(void)
{
    json_t *params = json_array();
    json_array_append_new(
        params, json_pack("{s:s, s:s, s:b, s:s, s:b, s:s, s:{s:s, s:i, s:{s:s}}, s:[s, s]}", "name", "r", "in", "query", "required",
                          0, "style", "form", "explode", 1, "description",
                          "One output per r= (at most 16): a /transform query, URL-encoded, with every /transform parameter plus "
                          "name= (default r1, r2, …), e.g. r=w%3D640%26type%3Dwebp%26q%3D75%26name%3Dhero",
                          "schema", "type", "array", "maxItems", 16, "items", "type", "string", "example",
                          "w=640&type=webp&q=75&name=hero", "w=320&type=jpeg&q=80"));
    json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "name", "placeholders", "in", "query", "description",
                                            "Comma-separated subset of blurhash, thumbhash, color, lqip", "schema", "type",
                                            "string", "example", "blurhash,thumbhash,color,lqip"));
    json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "name", "blurhash", "in", "query", "description",
                                            "BlurHash components XxY, each 1 to 9 (default 4x3); implies placeholders=blurhash",
                                            "schema", "type", "string", "pattern", "^[1-9]x[1-9]$", "example", "4x3"));
    json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", "info", "in", "query", "description",
                                            "Add the original's /info facts to the JSON part", "schema", "type", "boolean"));
    json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", "all", "in", "query", "description",
                                            "All or nothing: an output that fails fails the request (default: its part carries the "
                                            "error JSON)",
                                            "schema", "type", "boolean"));
    json_array_append_new(params, openapi_ref("#/components/parameters/field"));
    json_t *example =
        json_pack("{s:{s:s, s:s}, s:[{s:s, s:i, s:s, s:s, s:i, s:i, s:i, s:s}]}", "placeholders", "blurhash",
                  "LGL04~AY1fJ9+{]m-8wx5:R,$#$h", "color", "#a92103", "renditions", "name", "hero", "status", 200, "type", "webp",
                  "mime", "image/webp", "width", 640, "height", 481, "bytes", 11320, "data", "UklGRjQsAABXRUJQ…");
    json_t *responses = json_object(), *headers = json_object();
    json_object_set_new(headers, "Server-Timing", openapi_ref("#/components/headers/Server-Timing"));
    json_object_set_new(headers, "X-Request-Id", openapi_ref("#/components/headers/X-Request-Id"));
    json_object_set_new(
        responses, "200",
        json_pack("{s:s, s:o, s:{s:{s:{s:s, s:s}}, s:{s:{s:s}, s:o}}}", "description",
                  "multipart/mixed (default): an application/json part (placeholders, info, the list of outputs) then one part per "
                  "output with Content-Type, Content-Disposition (inline; filename = name + extension), Image-Width, "
                  "Image-Height; an output that failed is its error JSON (Image-Status). With Accept: application/json, one "
                  "JSON document with the outputs in base64.",
                  "headers", headers, "content", "multipart/mixed", "schema", "type", "string", "format", "binary",
                  "application/json", "schema", "type", "object", "example", example));
    openapi_add_error_responses(responses);
    return json_pack("{s:s, s:s, s:[s], s:o, s:o, s:o, s:b}", "operationId", "renditions", "summary",
                     openapi_op_summary("renditions"), "tags", "imgpipe", "parameters", params, "requestBody",
                     openapi_ref("#/components/requestBodies/Image"), "responses", responses, "x-imaginary-route", 0);
}

static json_t *openapi_build(const char *version)
{
    json_t *paths = json_object(), *comp_params = json_object(), *param_refs[PL_OP__COUNT];
    openapi_add_params(comp_params, param_refs);

    /* url= and file=: the GET forms (and POST without a body), when the service runs with
     * enable-url-source / mount (svc_sources.c) */
    json_object_set_new(comp_params, "url",
                        json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", "url", "in", "query", "description",
                                  "http(s) URL of the image, fetched by the service (enable-url-source; allowed-origins; "
                                  "non-public addresses refused unless allow-private-sources)",
                                  "required", 0, "schema", openapi_schema("string")));
    json_object_set_new(comp_params, "file",
                        json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", "file", "in", "query", "description",
                                  "path of the image relative to the mount folder (mount); no `..`, no absolute path, no symlink",
                                  "required", 0, "schema", openapi_schema("string")));
#define PL_X(id, name, imag, pipe)                                                                                                 \
    {                                                                                                                              \
        json_t *item = json_pack("{s:o}", "post", openapi_image_operation(name, imag, param_refs[id]));                            \
        if (id != PL_OP_WATERMARKIMAGE) {                                                                                          \
            json_t *get = json_deep_copy(json_object_get(item, "post"));                                                           \
            json_object_del(get, "requestBody");                                                                                   \
            json_object_set_new(get, "operationId", json_string(name "_get"));                                                     \
            json_object_set_new(get, "description",                                                                                \
                                json_string("The image comes from url= or file= (exactly one; also on a POST without a body). "    \
                                            "Without enable-url-source and mount, GET is 405."));                                  \
            json_array_append_new(json_object_get(get, "parameters"), openapi_ref("#/components/parameters/url"));                 \
            json_array_append_new(json_object_get(get, "parameters"), openapi_ref("#/components/parameters/file"));                \
            json_object_set_new(item, "get", get);                                                                                 \
        }                                                                                                                          \
        json_object_set_new(paths, "/" name, item);                                                                                \
    }
    PL_OPS(PL_X)
#undef PL_X
    json_object_set_new(paths, "/renditions", json_pack("{s:o}", "post", openapi_renditions_operation()));

    size_t nfixed = 0;
    const svc_route_info *fixed = svc_openapi_fixed_routes(&nfixed);
    for (size_t i = 0; i < nfixed; i++) {
        json_t *item = json_object();
        char methods[64];
        snprintf(methods, sizeof(methods), "%s", fixed[i].methods);
        char *save = NULL;
        for (char *m = strtok_r(methods, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
            char lower[16];
            size_t j = 0;
            for (; m[j] && j < sizeof(lower) - 1; j++)
                lower[j] = (char)(m[j] | 0x20);
            lower[j] = '\0';
            json_object_set_new(item, lower, openapi_fixed_operation(&fixed[i], lower));
        }
        json_object_set_new(paths, fixed[i].path, item);
    }
    for (int op = 0; op < PL_OP__COUNT; op++)
        json_decref(param_refs[op]);

    json_t *components =
        json_pack("{s:{s:o}, s:o, s:o, s:o, s:{s:o, s:o}, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s}}}", "schemas",
                  "Error", openapi_error_schema(), "parameters", comp_params, "headers", openapi_headers(), "responses",
                  openapi_error_components(), "requestBodies", "Image", openapi_request_body(), "ImageAndOverlay",
                  openapi_overlay_body(), "securitySchemes", "ApiKeyHeader", "type", "apiKey", "in", "header", "name", "API-Key",
                  "ApiKeyQuery", "type", "apiKey", "in", "query", "name", "key", "Bearer", "type", "http", "scheme", "bearer");

    return json_pack(
        "{s:s, s:{s:s, s:s, s:s, s:{s:s, s:s}}, s:[{s:s, s:s}, {s:s, s:s}], s:o, s:o, s:[{}, {s:[]}, {s:[]}, "
        "{s:[]}]}",
        "openapi", "3.0.3", "info", "title", "imgpipe", "version", version ? version : "unknown", "description",
        "Image-processing service compatible with imaginary's HTTP API. Every image route takes the image as "
        "the POST body and its options as query parameters; with enable-url-source or mount, GET takes it from url= or "
        "file=. API keys are needed only when the service is "
        "configured with them; URL signatures (sign=, expires=) only when signing is on.",
        "license", "name", "MIT", "url", "https://opensource.org/licenses/MIT", "servers", "url", "/", "description",
        "The server that serves this document", "url", "http://127.0.0.1:8080", "description",
        "imgpipe serve's default listen address (make run)", "paths", paths, "components", components, "security", "ApiKeyHeader",
        "ApiKeyQuery", "Bearer");
}

static pthread_mutex_t openapi_lock = PTHREAD_MUTEX_INITIALIZER;
static char *openapi_cache;
static size_t openapi_cache_len;

char *svc_openapi_json(const char *version, size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&openapi_lock);
    if (!openapi_cache) {
        json_t *doc = openapi_build(version);
        if (doc) {
            openapi_cache = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
            openapi_cache_len = openapi_cache ? strlen(openapi_cache) : 0;
            json_decref(doc);
        }
    }
    if (openapi_cache) {
        copy = malloc(openapi_cache_len + 1);
        if (copy) {
            memcpy(copy, openapi_cache, openapi_cache_len + 1);
            if (len)
                *len = openapi_cache_len;
        }
    }
    pthread_mutex_unlock(&openapi_lock);
    return copy;
}
