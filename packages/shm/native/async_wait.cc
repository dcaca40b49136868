// @conc/shm native part 2: async waits on the kernel futex, ONE helper thread per process.
//
// waitAsync(array, index, expected, timeoutMs?) on a JS thread (main or worker):
// if the word != expected it answers 'not-equal' at once, and 'timed-out' at once
// for a zero timeout; otherwise it books a Wait {addr, expected, deadline, env}
// in the process-wide list `pending` (under `mu`), keeps the array alive with a
// napi_ref (so the mapping cannot be unmapped under the helper), refs its env's
// threadsafe function (a pending wait keeps the event loop alive, like a timer;
// none pending: unref'd, so the helper never keeps a process or worker alive),
// bumps the private control word `control` and wakes it, and returns an id and
// a promise.
//
// The helper thread, started at the first async wait, loops under `mu`:
//   1. every pending wait whose word != expected completes 'ok', every one whose
//      deadline passed completes 'timed-out' (completing = leave `pending`, hand
//      the Wait to its env's tsfn, which resolves the promise on that JS thread);
//   2. snapshot `control`, then park in ONE kernel call on the control word AND
//      the distinct words of the pending waits: FUTEX_WAITV (Linux >= 5.16; at
//      most 128 futexes, so with more than 127 distinct words it takes a rotating
//      window of them and parks at most 10 ms), until the earliest deadline;
//   3. woken on word w: the oldest pending wait on w completes 'ok' (one kernel
//      wake = one wait resolved; the others on w complete in step 1 if w changed).
//      Woken on `control` (a new wait, a cancel), EAGAIN (a word or `control`
//      changed before the kernel looked), a timeout or a signal: back to 1.
// Without FUTEX_WAITV (ENOSYS, or CONC_SHM_NO_WAITV=1) step 2 parks with plain
// FUTEX_WAIT on one pending word at a time, round robin, in slices (50 ms with
// one distinct word, 5 ms with several), and a new wait or a cancel wakes the
// word the helper is parked on (a spurious wakeup for other waiters on it).
// Invariants: each Wait completes exactly once (it leaves `pending` under `mu`
// exactly once: by the helper, by cancel, or by its env's teardown); `mu` is never
// held across a kernel wait; the helper only reads words of waits in `pending`,
// whose arrays are kept alive. A wake that comes while the helper is between two
// kernel waits is seen through the word's value (step 1): wakers change the word
// before they wake, as every futex protocol does; a pure wake with the word
// unchanged can be missed then, and wake()'s count counts the helper once however
// many of this process's waits it resolves.
// cancel(id) on the waiting thread: if the wait is still pending, it leaves
// `pending` and its promise resolves 'cancelled' (returns true); else false (it
// has completed, its promise resolves with that result).
// Env teardown (worker terminate, process exit): a cleanup hook drops the env's
// pending waits and aborts its tsfn; the helper never calls a released tsfn
// because it only calls for waits in `pending`, under `mu`.
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

namespace conc_shm {

struct waitv_entry {  // struct futex_waitv of linux/futex.h (older headers lack it)
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};
static const uint32_t kFutex2SizeU32 = 0x02, kFutex2Private = 128;
static const size_t kWaitvMax = 128;

struct EnvState {
  napi_env env;
  napi_threadsafe_function tsfn = nullptr;
  uint32_t pending = 0;  // waits of this env not yet resolved on its thread (touched on its thread only)
};

struct AsyncWait {
  uint64_t id;
  int32_t* addr;
  int32_t expected;
  int64_t deadline;  // monotonic ns; INT64_MAX: none
  EnvState* es;
  napi_deferred deferred;
  napi_ref keep;
  const char* result = nullptr;
};

// Allocated once and never destroyed: at process exit static destructors run while the
// helper thread may still wake up and touch them.
static std::mutex& mu = *new std::mutex();
static std::vector<AsyncWait*>& pending = *new std::vector<AsyncWait*>();  // oldest first
static int32_t control = 0;
static int32_t* parked_on = nullptr;  // fallback mode: the word the helper parks on
static bool helper_started = false;
static bool use_waitv = getenv("CONC_SHM_NO_WAITV") == nullptr;
static uint64_t next_id = 1;

// Under mu. Hands w to its env's JS thread.
static void complete(AsyncWait* w, const char* result) {
  w->result = result;
  if (napi_call_threadsafe_function(w->es->tsfn, w, napi_tsfn_nonblocking) != napi_ok) delete w;  // env closing
}

// Under mu. Wake the helper so it rebuilds its list.
static void kick() {
  __atomic_add_fetch(&control, 1, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &control, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  if (parked_on) futex_wake_shared(parked_on, INT_MAX);
}

static struct timespec to_timespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  return ts;
}

static void helper_loop() {
  std::unique_lock<std::mutex> lk(mu);
  std::vector<waitv_entry> v;
  std::vector<int32_t*> words;
  size_t rotate = 0;
  for (;;) {
    const int64_t now = monotonic_ns();
    int64_t deadline = INT64_MAX;
    words.clear();
    for (auto it = pending.begin(); it != pending.end();) {
      AsyncWait* w = *it;
      if (__atomic_load_n(w->addr, __ATOMIC_SEQ_CST) != w->expected) {
        it = pending.erase(it);
        complete(w, "ok");
      } else if (w->deadline <= now) {
        it = pending.erase(it);
        complete(w, "timed-out");
      } else {
        deadline = std::min(deadline, w->deadline);
        if (std::find(words.begin(), words.end(), w->addr) == words.end()) words.push_back(w->addr);
        ++it;
      }
    }
    const int32_t ctl = __atomic_load_n(&control, __ATOMIC_SEQ_CST);
    if (words.empty()) {
      lk.unlock();
      syscall(SYS_futex, &control, FUTEX_WAIT_PRIVATE, ctl, nullptr, nullptr, 0);
      lk.lock();
      continue;
    }
    const size_t room = use_waitv ? kWaitvMax - 1 : 1;
    std::vector<int32_t*> window;
    for (size_t k = 0; k < std::min(room, words.size()); k++) window.push_back(words[(rotate + k) % words.size()]);
    const bool partial = window.size() < words.size();
    rotate = partial ? (rotate + window.size()) % words.size() : 0;
    if (use_waitv) {
      if (partial) deadline = std::min(deadline, now + 10000000);
      v.clear();
      v.push_back({(uint64_t)(uint32_t)ctl, (uint64_t)(uintptr_t)&control, kFutex2SizeU32 | kFutex2Private, 0});
      for (int32_t* a : window) {
        v.push_back({(uint64_t)(uint32_t)__atomic_load_n(a, __ATOMIC_SEQ_CST), (uint64_t)(uintptr_t)a, kFutex2SizeU32, 0});
      }
      // The expected values: a word is waited on only while it equals its waits' expected (checked above under mu).
      for (size_t k = 1; k < v.size(); k++) {
        for (AsyncWait* w : pending)
          if ((uint64_t)(uintptr_t)w->addr == v[k].uaddr) { v[k].val = (uint64_t)(uint32_t)w->expected; break; }
      }
      lk.unlock();
      struct timespec abs = to_timespec(deadline == INT64_MAX ? 0 : deadline);
      long r = syscall(SYS_futex_waitv, v.data(), (unsigned)v.size(), 0, deadline == INT64_MAX ? nullptr : &abs,
                       CLOCK_MONOTONIC);
      int e = errno;
      lk.lock();
      if (r < 0 && e == ENOSYS) { use_waitv = false; continue; }
      if (r > 0) {
        int32_t* woken = (int32_t*)(uintptr_t)v[r].uaddr;
        for (auto it = pending.begin(); it != pending.end(); ++it)
          if ((*it)->addr == woken) {
            AsyncWait* w = *it;
            pending.erase(it);
            complete(w, "ok");
            break;
          }
      }
    } else {
      int32_t* a = window[0];
      int32_t expected = 0;
      for (AsyncWait* w : pending)
        if (w->addr == a) { expected = w->expected; break; }
      const int64_t slice = words.size() == 1 ? 50000000 : 5000000;
      struct timespec rel = to_timespec(std::max<int64_t>(0, std::min(deadline, now + slice) - now));
      parked_on = a;
      lk.unlock();
      long r = futex_wait_shared(a, expected, &rel);
      lk.lock();
      parked_on = nullptr;
      if (r == 0 && __atomic_load_n(&control, __ATOMIC_SEQ_CST) == ctl) {
        for (auto it = pending.begin(); it != pending.end(); ++it)
          if ((*it)->addr == a) {
            AsyncWait* w = *it;
            pending.erase(it);
            complete(w, "ok");
            break;
          }
      }
    }
  }
}

// On the env's JS thread: resolve the promise (env null: the tsfn is being torn down, only free).
static void call_js(napi_env env, napi_value, void*, void* data) {
  AsyncWait* w = static_cast<AsyncWait*>(data);
  if (env != nullptr) {
    napi_value v;
    napi_create_string_utf8(env, w->result, NAPI_AUTO_LENGTH, &v);
    napi_resolve_deferred(env, w->deferred, v);
    napi_delete_reference(env, w->keep);
    if (--w->es->pending == 0) napi_unref_threadsafe_function(env, w->es->tsfn);
  }
  delete w;
}

static void tsfn_finalize(napi_env, void* data, void*) { delete static_cast<EnvState*>(data); }

static void env_cleanup(void* data) {
  EnvState* es = static_cast<EnvState*>(data);
  std::lock_guard<std::mutex> g(mu);
  for (auto it = pending.begin(); it != pending.end();) {
    if ((*it)->es == es) {
      delete *it;
      it = pending.erase(it);
    } else {
      ++it;
    }
  }
  if (es->tsfn) {
    napi_release_threadsafe_function(es->tsfn, napi_tsfn_abort);
    es->tsfn = nullptr;  // deleted by tsfn_finalize
  } else {
    delete es;
  }
}

static EnvState* env_state(napi_env env, napi_callback_info info) {
  void* data;
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, nullptr, nullptr, &data);
  return static_cast<EnvState*>(data);
}

// waitAsync(array, index, expected, timeoutMs?) -> 'not-equal' | 'timed-out' | [id, promise]
static napi_value WaitAsync(napi_env env, napi_callback_info info) {
  EnvState* es = env_state(env, info);
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  for (size_t i = argc; i < 4; i++) napi_get_undefined(env, &argv[i]);
  int32_t* addr = word_address(env, argv[0], argv[1], "waitAsync");
  if (!addr) return nullptr;
  napi_valuetype vt;
  napi_typeof(env, argv[2], &vt);
  if (vt != napi_number) return throw_error(env, "TypeError", "ERR_CONC_SHM_ARGUMENT", "waitAsync: expected must be a number");
  int32_t expected;
  napi_get_value_int32(env, argv[2], &expected);
  int64_t timeout;
  if (!timeout_ns(env, argv[3], "waitAsync", &timeout)) return nullptr;
  napi_value out;
  const bool equal = __atomic_load_n(addr, __ATOMIC_SEQ_CST) == expected;
  if (!equal || timeout == 0) {
    napi_create_string_utf8(env, equal ? "timed-out" : "not-equal", NAPI_AUTO_LENGTH, &out);
    return out;
  }
  if (!es->tsfn) {
    napi_value name;
    napi_create_string_utf8(env, "conc-shm-wait", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, es, tsfn_finalize, es, call_js, &es->tsfn) != napi_ok)
      return throw_error(env, "Error", "ERR_CONC_SHM_ASYNC", "waitAsync: cannot create the threadsafe function");
    napi_unref_threadsafe_function(env, es->tsfn);
  }
  AsyncWait* w = new AsyncWait();
  w->addr = addr;
  w->expected = expected;
  w->deadline = timeout < 0 ? INT64_MAX : monotonic_ns() + timeout;
  w->es = es;
  napi_value promise;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_reference(env, argv[0], 1, &w->keep);
  if (es->pending++ == 0) napi_ref_threadsafe_function(env, es->tsfn);
  {
    std::lock_guard<std::mutex> g(mu);
    w->id = next_id++;
    pending.push_back(w);
    if (!helper_started) {
      helper_started = true;
      std::thread(helper_loop).detach();
    }
    kick();
  }
  napi_value id;
  napi_create_double(env, (double)w->id, &id);
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, id);
  napi_set_element(env, out, 1, promise);
  return out;
}

// cancel(id) -> true if the wait was pending (its promise resolves 'cancelled'), false otherwise.
static napi_value Cancel(napi_env env, napi_callback_info info) {
  EnvState* es = env_state(env, info);
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  double id = 0;
  if (argc >= 1) napi_get_value_double(env, argv[0], &id);
  AsyncWait* found = nullptr;
  {
    std::lock_guard<std::mutex> g(mu);
    for (auto it = pending.begin(); it != pending.end(); ++it)
      if ((*it)->id == (uint64_t)id && (*it)->es == es) {
        found = *it;
        pending.erase(it);
        kick();
        break;
      }
  }
  if (found) {
    found->result = "cancelled";
    call_js(env, nullptr, nullptr, found);
  }
  napi_value r;
  napi_get_boolean(env, found != nullptr, &r);
  return r;
}

// pendingCount() -> waits of this process still pending in the helper (tests: nothing leaks).
static napi_value PendingCount(napi_env env, napi_callback_info) {
  size_t n;
  {
    std::lock_guard<std::mutex> g(mu);
    n = pending.size();
  }
  napi_value r;
  napi_create_uint32(env, (uint32_t)n, &r);
  return r;
}

napi_value init_async(napi_env env, napi_value exports) {
  EnvState* es = new EnvState();
  es->env = env;
  napi_add_env_cleanup_hook(env, env_cleanup, es);
  napi_property_descriptor props[] = {
      {"waitAsync", nullptr, WaitAsync, nullptr, nullptr, nullptr, napi_enumerable, es},
      {"cancel", nullptr, Cancel, nullptr, nullptr, nullptr, napi_enumerable, es},
      {"pendingCount", nullptr, PendingCount, nullptr, nullptr, nullptr, napi_enumerable, es},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace conc_shm
