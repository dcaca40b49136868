// Shared declarations of the @conc/shm addon (see shm.cc for the region and the
// synchronous futex, async_wait.cc for the one helper thread per process).
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include <cstdint>
#include <ctime>
#include <string>

namespace conc_shm {

// Throw a JS error of `kind` ("TypeError", "RangeError" or "Error") with a
// `code` property; returns nullptr so callers can `return throw_error(...)`.
napi_value throw_error(napi_env env, const char* kind, const char* code, const std::string& message);

// Resolve (array, index) to the address of one Int32 word, or throw and return
// nullptr: array must be an Int32Array, index an integer in [0, length).
int32_t* word_address(napi_env env, napi_value array, napi_value index, const char* fn);

// Timeout argument in ms, as Atomics.wait reads it: undefined or NaN is no
// timeout (returns -1), a negative value is 0; anything else not a number throws.
bool timeout_ns(napi_env env, napi_value value, const char* fn, int64_t* out);

int64_t monotonic_ns();

// The kernel futex on a word, NOT private (FUTEX_PRIVATE_FLAG absent): a waiter
// and a waker in different processes that map the same memory meet.
long futex_wait_shared(int32_t* addr, int32_t expected, const struct timespec* relative);
long futex_wake_shared(int32_t* addr, int count);

napi_value init_async(napi_env env, napi_value exports);

}  // namespace conc_shm
