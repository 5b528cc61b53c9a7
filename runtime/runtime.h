/* Umbrella header of the OpenCL runtime layer. */
#ifndef ALUMCL_RUNTIME_H
#define ALUMCL_RUNTIME_H

#include "runtime/rt_context.h"
#include "runtime/rt_error.h"
#include "runtime/rt_gemm.h"
#include "runtime/rt_program.h"
#include "runtime/rt_tensor.h"

#endif
