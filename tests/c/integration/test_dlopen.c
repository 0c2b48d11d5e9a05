/* The library build loads with dlopen into a process that has used up its
 * static TLS (the jemalloc failure "cannot allocate memory in static TLS
 * block" seen from Python extensions): build/tests/libta_dl.so wraps
 * build/libtunalloc.a, and its ta_ functions work through dlsym, from the
 * main thread and from a thread started after loading. An optional
 * argument names another library to load instead; the pytest driver uses
 * it to check that the initial-exec preload build is refused here. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "harness.h"

typedef void *malloc_fn(size_t);
typedef void free_fn(void *);
typedef int owns_fn(const void *);
typedef size_t usable_fn(const void *);

static malloc_fn *dl_malloc;
static free_fn *dl_free;
static owns_fn *dl_owns;
static usable_fn *dl_usable;

static char build_dir[PATH_MAX];

/* build/tests/<variant>/<kind>/test_dlopen -> build/tests, where the
 * libraries this test loads are built. */
static int find_build_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return -1;
        *slash = '\0';
    }
    return snprintf(build_dir, sizeof(build_dir), "%s", exe) < (int)sizeof(build_dir) ? 0 : -1;
}

/* Loads static-TLS fillers of falling sizes until none fits, leaving less
 * than the smallest filler of static TLS; returns the bytes taken. */
static unsigned fill_static_tls(void)
{
    unsigned taken = 0;
    for (unsigned size = 4096; size >= 8; size /= 2) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/tls_filler_%u.so", build_dir, size);
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *err = dlerror();
            /* a missing filler would make the test pass without testing */
            CHECK(err && strstr(err, "static TLS"));
            continue;
        }
        char *(*touch)(void) = (char *(*)(void))dlsym(h, "tls_filler_touch");
        CHECK(touch && touch());
        taken += size;
    }
    return taken;
}

/* Looks a symbol up and checks it comes from the loaded library, not from
 * the copy of tunalloc linked into this program. */
static void *lookup(void *handle, const char *name, const char *path)
{
    void *sym = dlsym(handle, name);
    CHECK(sym != NULL);
    Dl_info info;
    if (sym && dladdr(sym, &info)) {
        const char *base = strrchr(path, '/');
        CHECK(info.dli_fname && strstr(info.dli_fname, base ? base + 1 : path));
    }
    return sym;
}

/* Allocation work through the loaded copy. */
static void *work(void *arg)
{
    int *bad = arg;
    void *p[300];
    for (int i = 0; i < 300; i++) {
        size_t size = (size_t)i * i * 11 + 1;
        p[i] = dl_malloc(size);
        if (!p[i] || !dl_owns(p[i]) || dl_usable(p[i]) < size) {
            (*bad)++;
            continue;
        }
        memset(p[i], i & 0xff, size);
    }
    for (int i = 0; i < 300; i++)
        dl_free(p[i]);
    return NULL;
}

static int loaded;
static char lib_path[PATH_MAX + 32];

/* Loads the library, then allocates through it from two threads. */
static void test_dlopen_and_use(void)
{
    printf("static TLS filled: %u bytes\n", fill_static_tls());
    void *h = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fprintf(stderr, "dlopen(%s): %s\n", lib_path, dlerror());
    CHECK(h != NULL);
    if (!h)
        return;
    loaded = 1;
    dl_malloc = (malloc_fn *)lookup(h, "ta_malloc", lib_path);
    dl_free = (free_fn *)lookup(h, "ta_free", lib_path);
    dl_owns = (owns_fn *)lookup(h, "ta_owns", lib_path);
    dl_usable = (usable_fn *)lookup(h, "ta_malloc_usable_size", lib_path);
    if (!dl_malloc || !dl_free || !dl_owns || !dl_usable)
        return;
    int bad = 0;
    work(&bad);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, work, &bad), 0);
    pthread_join(t, NULL);
    CHECK_EQ(bad, 0);
    /* the library stays loaded: its thread-exit hooks must outlive threads */
}

int main(int argc, char **argv)
{
    if (find_build_dir() != 0)
        return 2;
    if (argc > 1)
        snprintf(lib_path, sizeof(lib_path), "%s", argv[1]);
    else
        snprintf(lib_path, sizeof(lib_path), "%s/libta_dl.so", build_dir);
    RUN(test_dlopen_and_use);
    printf("loaded %s: %s\n", lib_path, loaded ? "yes" : "no");
    return TEST_EXIT();
}
