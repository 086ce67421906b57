// nnport's implementation of the pthreadpool API on OpenMP (see pthreadpool_omp.cpp): what it adds to the API.
#pragma once

#include <cstdint>

namespace nnport {

/// How many pthreadpool calls in this process have run on more than one OpenMP thread (for tests: XNNPACK's calls
/// reaching this implementation rather than libpthreadpool's).
uint64_t pthreadpool_parallel_calls();

}  // namespace nnport
