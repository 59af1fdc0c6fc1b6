/* svc_metrics: stub, to be written. */
#include "svc_metrics.h"
