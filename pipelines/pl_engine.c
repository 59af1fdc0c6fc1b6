/* pl_engine: stub, to be written. */
#include "pl_engine.h"
