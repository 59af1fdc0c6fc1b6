/*
 * svc_errors: the one table of the errors the service itself answers (the engine's are in
 * pipelines/pl_error.h): the stable name of the JSON `error` field, the HTTP status, and whether
 * the answer carries Retry-After. svc_respond_fail() answers one of them; docs/http-api.md's
 * errors table lists every name (tests/ops/test_doc_examples.sh checks it).
 */
#ifndef SVC_ERRORS_H
#define SVC_ERRORS_H

/* X(code, name, status, retry_after) */
#define SVC_ERROR_CODES(X)                                                                                                         \
    X(SVC_E_BAD_REQUEST, "bad_request", 400, 0)               /* ambiguous or broken request framing (svc_http.c, h2o) */          \
    X(SVC_E_BAD_PARAMETER, "bad_parameter", 400, 0)           /* a service-level parameter conflict (url= and file=) */            \
    X(SVC_E_MISSING_PARAMETER, "missing_parameter", 400, 0)   /* watermarkimage without its overlay part */                        \
    X(SVC_E_EMPTY_IMAGE, "empty_image", 400, 0)               /* no body, or an empty part */                                      \
    X(SVC_E_BAD_MULTIPART, "bad_multipart", 400, 0)           /* the multipart body does not parse */                              \
    X(SVC_E_MISSING_FILE, "missing_file", 400, 0)             /* no part `file` (or field=) */                                     \
    X(SVC_E_MISSING_SOURCE, "missing_source", 400, 0)         /* GET without url= or file= */                                      \
    X(SVC_E_INVALID_URL, "invalid_url", 400, 0)               /* url= does not parse, is not http(s) */                            \
    X(SVC_E_INVALID_FILE_PATH, "invalid_file_path", 400, 0)   /* file= absolute, with .., through a link, missing */               \
    X(SVC_E_INVALID_SIGNATURE, "invalid_signature", 400, 0)   /* sign=/expires= malformed, or a pair it cannot cover */            \
    X(SVC_E_UNAUTHORIZED, "unauthorized", 401, 0)             /* API key missing or wrong */                                       \
    X(SVC_E_SIGNATURE_MISMATCH, "signature_mismatch", 403, 0) /* wrong or expired signature */                                     \
    X(SVC_E_ORIGIN_NOT_ALLOWED, "origin_not_allowed", 403, 0) /* url= host not in allowed-origins */                               \
    X(SVC_E_NOT_FOUND, "not_found", 404, 0)                   /* unknown path */                                                   \
    X(SVC_E_METHOD_NOT_ALLOWED, "method_not_allowed", 405, 0) /* GET without a source, PUT, DELETE … */                          \
    X(SVC_E_PAYLOAD_TOO_LARGE, "payload_too_large", 413, 0)   /* body over max-body-bytes (svc_early_errors.c) */                  \
    X(SVC_E_EXPECTATION_FAILED, "expectation_failed", 417, 0) /* Expect other than 100-continue (svc_early_errors.c) */            \
    X(SVC_E_WORKER_CRASHED, "worker_crashed", 422, 0)         /* the worker process died on this input */                          \
    X(SVC_E_CANCELLED, "cancelled", 499, 0)                   /* the client went away (logged; nobody reads it) */                 \
    X(SVC_E_INTERNAL, "internal_error", 500, 0)               /* metrics/OpenAPI rendering failed */                               \
    X(SVC_E_OVERLOADED, "overloaded", 503, 1)                 /* predicted queue wait too long, queue full, stopping */            \
    X(SVC_E_OUT_OF_MEMORY, "out_of_memory", 503, 1)           /* the job's input could not be copied or mapped */

typedef enum {
#define SVC_X(code, name, status, retry) code,
    SVC_ERROR_CODES(SVC_X)
#undef SVC_X
        SVC_E__COUNT
} svc_ecode;

const char *svc_error_name(svc_ecode e);
int svc_error_status(svc_ecode e);
int svc_error_retry_after(svc_ecode e); /* seconds for Retry-After, 0 = none */

#endif
