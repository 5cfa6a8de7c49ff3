/* Preloaded, before the sanitizer runtime, into Debian's uninstrumented
 * Orthanc by `./appliance test --sanitize` / `--tsan` (harness.py starts
 * Orthanc with LD_PRELOAD=$ROUTER_ORTHANC_PRELOAD). Two quirks of running a
 * preloaded gcc sanitizer runtime under Debian 12's Orthanc 1.10.1:
 *
 * newlocale: a preloaded runtime initialises itself on its first intercepted
 * call, and in Orthanc that is libp11-kit's constructor: newlocale() ->
 * malloc() while glibc holds its locale lock. The runtime's start-up calls
 * dlerror(), which translates its message and so takes and drops that lock
 * again; the lock's reader count underflows and Orthanc hangs at its first
 * std::locale. This newlocale() allocates once first, outside the lock, so
 * that the runtime is up by then, and calls glibc's.
 *
 * mallopt: Orthanc stops at start when mallopt(M_ARENA_MAX, 5) fails, and
 * ASan's allocator refuses every mallopt. Its allocator has no glibc arenas
 * to tune: report success. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <locale.h>
#include <malloc.h>
#include <stdlib.h>

locale_t newlocale(int category_mask, const char* locale, locale_t base) {
  static locale_t (*real)(int, const char*, locale_t);
  if (real == NULL) {
    void* volatile first = malloc(1); /* volatile: the compiler keeps the pair */
    free(first);
    real = (locale_t(*)(int, const char*, locale_t))dlsym(RTLD_NEXT, "newlocale");
  }
  return real(category_mask, locale, base);
}

int mallopt(int param, int value) {
  (void)param;
  (void)value;
  return 1;
}
