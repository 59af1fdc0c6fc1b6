/* svc_auth: stub, to be written. */
#include "svc_auth.h"
