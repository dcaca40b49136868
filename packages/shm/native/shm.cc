// @conc/shm native part 1: memory that processes share, and the kernel futex on it.
//
// Region: memfd_create (MFD_CLOEXEC: the fd leaks into no unrelated child; a child
// that must map it gets it in its stdio, where libuv dup2()s it and so clears
// CLOEXEC on the copy) + ftruncate + mmap(MAP_SHARED). The mapping is handed to JS
// as a SharedArrayBuffer where the runtime has node_api_create_external_sharedarraybuffer
// (looked up with dlsym at run time: Node >= 22.23 / 24.21 as tried here), else
// as an external ArrayBuffer. Its finalizer munmap()s it; the fd stays open and
// belongs to the caller (close it when no one else needs to map the region: the
// memory lives on while any mapping does, and goes away with the last one).
//
// Futex: FUTEX_WAIT / FUTEX_WAKE without FUTEX_PRIVATE_FLAG, so the kernel keys a
// waiter by (inode, offset) of the shared mapping and a wake from any process that
// maps the same memory reaches it. Invariants: wait() returns 'not-equal' iff the
// kernel saw word != expected when it looked; 'timed-out' iff the timeout passed
// with no wake; 'ok' on a wake (or a spurious kernel wakeup: callers re-check the
// word, as every futex protocol does). A signal (EINTR) re-waits with the time left.
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cmath>

#include "common.h"

namespace conc_shm {

napi_value throw_error(napi_env env, const char* kind, const char* code, const std::string& message) {
  napi_value msg, c, err;
  napi_create_string_utf8(env, message.c_str(), NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  if (strcmp(kind, "TypeError") == 0)
    napi_create_type_error(env, c, msg, &err);
  else if (strcmp(kind, "RangeError") == 0)
    napi_create_range_error(env, c, msg, &err);
  else
    napi_create_error(env, c, msg, &err);
  napi_throw(env, err);
  return nullptr;
}

static std::string errno_text(int e) { return std::string(strerrorname_np(e) ? strerrorname_np(e) : "E?") + ": " + strerror(e); }

int64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int32_t* word_address(napi_env env, napi_value array, napi_value index, const char* fn) {
  bool is_ta = false;
  napi_is_typedarray(env, array, &is_ta);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (is_ta) napi_get_typedarray_info(env, array, &type, &length, &data, nullptr, nullptr);
  if (!is_ta || type != napi_int32_array) {
    throw_error(env, "TypeError", "ERR_CONC_SHM_NOT_INT32ARRAY", std::string(fn) + ": the array must be an Int32Array");
    return nullptr;
  }
  napi_valuetype vt;
  napi_typeof(env, index, &vt);
  double i = -1;
  if (vt == napi_number) napi_get_value_double(env, index, &i);
  if (vt != napi_number || !(i >= 0) || i != std::floor(i) || i >= (double)length) {
    throw_error(env, "RangeError", "ERR_CONC_SHM_INDEX",
                std::string(fn) + ": index must be an integer in [0, " + std::to_string(length) + ")");
    return nullptr;
  }
  return static_cast<int32_t*>(data) + (size_t)i;
}

bool timeout_ns(napi_env env, napi_value value, const char* fn, int64_t* out) {
  napi_valuetype vt;
  napi_typeof(env, value, &vt);
  *out = -1;
  if (vt == napi_undefined) return true;
  if (vt != napi_number) {
    throw_error(env, "TypeError", "ERR_CONC_SHM_TIMEOUT", std::string(fn) + ": timeout must be a number of milliseconds");
    return false;
  }
  double ms;
  napi_get_value_double(env, value, &ms);
  if (std::isnan(ms) || ms >= 9.2e12) return true;  // no timeout (~290 years is as good as none)
  *out = ms <= 0 ? 0 : (int64_t)(ms * 1e6);
  return true;
}

long futex_wait_shared(int32_t* addr, int32_t expected, const struct timespec* relative) {
  return syscall(SYS_futex, addr, FUTEX_WAIT, expected, relative, nullptr, 0);
}

long futex_wake_shared(int32_t* addr, int count) { return syscall(SYS_futex, addr, FUTEX_WAKE, count, nullptr, nullptr, 0); }

// ---- arguments ----

static bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value* argv) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  for (size_t i = argc; i < n; i++) napi_get_undefined(env, &argv[i]);
  return true;
}

static bool get_int(napi_env env, napi_value v, const char* fn, const char* what, double min, double max, double* out) {
  napi_valuetype vt;
  napi_typeof(env, v, &vt);
  double d = NAN;
  if (vt == napi_number) napi_get_value_double(env, v, &d);
  if (vt != napi_number || !(d >= min && d <= max) || d != std::floor(d)) {
    throw_error(env, vt == napi_number ? "RangeError" : "TypeError", "ERR_CONC_SHM_ARGUMENT",
                std::string(fn) + ": " + what + " must be an integer in [" + std::to_string((long long)min) + ", " +
                    std::to_string((long long)max) + "], got " + (vt == napi_number ? std::to_string(d) : "a non-number"));
    return false;
  }
  *out = d;
  return true;
}

// ---- regions ----

typedef void (*noenv_finalize)(void* data, void* hint);
typedef napi_status (*create_external_sab_fn)(napi_env, void*, size_t, noenv_finalize, void*, napi_value*);
static create_external_sab_fn create_external_sab() {
  static create_external_sab_fn fn =
      (create_external_sab_fn)dlsym(RTLD_DEFAULT, "node_api_create_external_sharedarraybuffer");
  return fn;
}

static void unmap_noenv(void* data, void* hint) { munmap(data, (size_t)(uintptr_t)hint); }
static void unmap_env(napi_env, void* data, void* hint) { munmap(data, (size_t)(uintptr_t)hint); }

// { buffer, fd, size, shared } over a fresh mapping of fd; on failure throws and returns nullptr.
static napi_value region_object(napi_env env, int fd, size_t size, const char* fn) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return throw_error(env, "Error", "ERR_CONC_SHM_MMAP", std::string(fn) + ": mmap of " + std::to_string(size) +
                                                               " bytes failed (" + errno_text(errno) + ")");
  napi_value buffer;
  bool shared = false;
  napi_status st;
  if (create_external_sab() && getenv("CONC_SHM_NO_SAB") == nullptr) {
    st = create_external_sab()(env, p, size, unmap_noenv, (void*)(uintptr_t)size, &buffer);
    shared = st == napi_ok;
  }
  if (!shared) st = napi_create_external_arraybuffer(env, p, size, unmap_env, (void*)(uintptr_t)size, &buffer);
  if (st != napi_ok) {
    munmap(p, size);
    return throw_error(env, "Error", "ERR_CONC_SHM_BUFFER", std::string(fn) + ": the runtime refused an external buffer");
  }
  napi_value obj, vfd, vsize, vshared;
  napi_create_object(env, &obj);
  napi_create_int32(env, fd, &vfd);
  napi_create_double(env, (double)size, &vsize);
  napi_get_boolean(env, shared, &vshared);
  napi_set_named_property(env, obj, "buffer", buffer);
  napi_set_named_property(env, obj, "fd", vfd);
  napi_set_named_property(env, obj, "size", vsize);
  napi_set_named_property(env, obj, "shared", vshared);
  return obj;
}

static const double kMaxSize = 1ULL << 46;  // 64 TiB: past any ftruncate that can work, below 2^53

// create(size): a new memfd of `size` bytes, mapped.
static napi_value Create(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  get_args(env, info, 1, argv);
  double size;
  if (!get_int(env, argv[0], "createRegion", "size", 1, kMaxSize, &size)) return nullptr;
  int fd = memfd_create("conc-shm", MFD_CLOEXEC);
  if (fd < 0) return throw_error(env, "Error", "ERR_CONC_SHM_MEMFD", "createRegion: memfd_create failed (" + errno_text(errno) + ")");
  if (ftruncate(fd, (off_t)size) != 0) {
    int e = errno;
    close(fd);
    return throw_error(env, "Error", "ERR_CONC_SHM_SIZE",
                       "createRegion: cannot size the region to " + std::to_string((long long)size) + " bytes (" + errno_text(e) + ")");
  }
  napi_value r = region_object(env, fd, (size_t)size, "createRegion");
  if (!r) close(fd);
  return r;
}

// map(fd, size?): map an existing region (its whole size when size is omitted).
static napi_value Map(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  get_args(env, info, 2, argv);
  double fd;
  if (!get_int(env, argv[0], "mapRegion", "fd", 0, INT_MAX, &fd)) return nullptr;
  struct stat st;
  if (fstat((int)fd, &st) != 0)
    return throw_error(env, "Error", "ERR_CONC_SHM_FD",
                       "mapRegion: fd " + std::to_string((int)fd) + " is not an open descriptor (" + errno_text(errno) + ")");
  if (!S_ISREG(st.st_mode) || st.st_size <= 0)
    return throw_error(env, "Error", "ERR_CONC_SHM_FD",
                       "mapRegion: fd " + std::to_string((int)fd) + " is not a shared memory region (not a sized memfd or file)");
  napi_valuetype vt;
  napi_typeof(env, argv[1], &vt);
  double size = (double)st.st_size;
  if (vt != napi_undefined) {
    if (!get_int(env, argv[1], "mapRegion", "size", 1, (double)st.st_size, &size)) return nullptr;
  }
  return region_object(env, (int)fd, (size_t)size, "mapRegion");
}

// wait(array, index, expected, timeoutMs?) -> 'ok' | 'not-equal' | 'timed-out'
static napi_value Wait(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  get_args(env, info, 4, argv);
  int32_t* addr = word_address(env, argv[0], argv[1], "wait");
  if (!addr) return nullptr;
  int32_t expected;
  napi_valuetype vt;
  napi_typeof(env, argv[2], &vt);
  if (vt != napi_number) return throw_error(env, "TypeError", "ERR_CONC_SHM_ARGUMENT", "wait: expected must be a number");
  napi_get_value_int32(env, argv[2], &expected);
  int64_t timeout;
  if (!timeout_ns(env, argv[3], "wait", &timeout)) return nullptr;
  const int64_t deadline = timeout < 0 ? -1 : monotonic_ns() + timeout;
  const char* result;
  for (;;) {
    struct timespec ts, *tsp = nullptr;
    if (deadline >= 0) {
      int64_t left = deadline - monotonic_ns();
      if (left < 0) left = 0;
      ts.tv_sec = left / 1000000000;
      ts.tv_nsec = left % 1000000000;
      tsp = &ts;
    }
    long r = futex_wait_shared(addr, expected, tsp);
    if (r == 0) { result = "ok"; break; }
    if (errno == EAGAIN) { result = "not-equal"; break; }
    if (errno == ETIMEDOUT) { result = "timed-out"; break; }
    if (errno == EINTR) continue;
    return throw_error(env, "Error", "ERR_CONC_SHM_FUTEX", "wait: futex failed (" + errno_text(errno) + ")");
  }
  napi_value v;
  napi_create_string_utf8(env, result, NAPI_AUTO_LENGTH, &v);
  return v;
}

// wake(array, index, count?) -> number of waiters the kernel woke (all when count is omitted)
static napi_value Wake(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  get_args(env, info, 3, argv);
  int32_t* addr = word_address(env, argv[0], argv[1], "wake");
  if (!addr) return nullptr;
  napi_valuetype vt;
  napi_typeof(env, argv[2], &vt);
  int count = INT_MAX;
  if (vt != napi_undefined) {
    double c = -1;
    if (vt == napi_number) napi_get_value_double(env, argv[2], &c);
    if (!(c >= 0)) return throw_error(env, "RangeError", "ERR_CONC_SHM_ARGUMENT", "wake: count must be a number >= 0");
    count = c >= (double)INT_MAX ? INT_MAX : (int)c;
  }
  long r = futex_wake_shared(addr, count);
  if (r < 0) return throw_error(env, "Error", "ERR_CONC_SHM_FUTEX", "wake: futex failed (" + errno_text(errno) + ")");
  napi_value v;
  napi_create_int32(env, (int32_t)r, &v);
  return v;
}

// close(fd): close a region's descriptor (its mappings stay valid). Node's fs.closeSync
// would do, but warns in a worker thread about an fd that thread's fs did not open.
static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  get_args(env, info, 1, argv);
  double fd;
  if (!get_int(env, argv[0], "closeRegion", "fd", 0, INT_MAX, &fd)) return nullptr;
  if (close((int)fd) != 0)
    return throw_error(env, "Error", "ERR_CONC_SHM_FD", "closeRegion: cannot close fd " + std::to_string((int)fd) + " (" + errno_text(errno) + ")");
  return nullptr;
}

}  // namespace conc_shm

using namespace conc_shm;

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", nullptr, Create, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"map", nullptr, Map, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"wait", nullptr, Wait, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"wake", nullptr, Wake, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value sab;
  napi_get_boolean(env, create_external_sab() != nullptr && getenv("CONC_SHM_NO_SAB") == nullptr, &sab);
  napi_set_named_property(env, exports, "sharedArrayBuffer", sab);
  return init_async(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
