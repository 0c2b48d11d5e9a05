/* Lists every readable name of the control namespace with its value, like
 * `sysctl -a`, using only the public enumeration (ta_ctl_child): index
 * components are tried from 0 until the name stops resolving, plus the
 * all-arenas index 4096. With --stats LETTERS it first prints
 * ta_stats_print(LETTERS) (JSON with "J") and a line "--", so both views of
 * one epoch can be compared.
 *
 *   build/examples/ctl_dump | grep stats.arenas.4096.small
 *   build/examples/ctl_dump --stats J
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "tunalloc.h"

#define ALL_ARENAS 4096

/* Reading these creates something or needs an input. */
static bool has_side_effect(const char *name)
{
    return strcmp(name, "arenas.create") == 0 || strcmp(name, "tcache.create") == 0;
}

static void print_leaf(const char *name, const ta_ctl_info *info)
{
    ta_ctl_value v;
    size_t len = 0;
    if (ta_ctl(name, NULL, &len, NULL, 0) != 0 || len > sizeof(v))
        return;
    if (ta_ctl(name, &v, &len, NULL, 0) != 0)
        return; /* e.g. an arena destroyed since, or merged peak */
    switch (info->type) {
    case TA_CTL_BOOL:
        printf("%s\t%s\n", name, v.b ? "true" : "false");
        break;
    case TA_CTL_UNSIGNED:
        printf("%s\t%u\n", name, v.u);
        break;
    case TA_CTL_SIZE:
        printf("%s\t%zu\n", name, v.z);
        break;
    case TA_CTL_SSIZE:
        printf("%s\t%zd\n", name, v.s);
        break;
    case TA_CTL_STRING:
        printf("%s\t\"%s\"\n", name, v.str);
        break;
    default:
        printf("%s\t%llu\n", name, (unsigned long long)v.q);
        break;
    }
}

static void walk(const char *pattern, const char *concrete);

/* One index child: every index that resolves, then the all-arenas one. */
static void walk_indexes(const char *pattern, const char *concrete, const ta_ctl_info *info)
{
    char pat[256], conc[256];
    snprintf(pat, sizeof(pat), "%s.%s", pattern, info->name);
    for (unsigned i = 0; i <= ALL_ARENAS; i++) {
        size_t mib[8], miblen = 8;
        snprintf(conc, sizeof(conc), "%s.%u", concrete, i);
        if (ta_ctl_nametomib(conc, mib, &miblen) != 0) {
            if (i == ALL_ARENAS)
                break;
            i = ALL_ARENAS - 1;
            continue;
        }
        walk(pat, conc);
    }
}

static void walk(const char *pattern, const char *concrete)
{
    ta_ctl_info info;
    for (size_t k = 0; ta_ctl_child(pattern, k, &info) == 0; k++) {
        if (info.name[0] == '<') {
            walk_indexes(pattern, concrete, &info);
            continue;
        }
        char pat[256], conc[256];
        snprintf(pat, sizeof(pat), "%s%s%s", pattern, *pattern ? "." : "", info.name);
        snprintf(conc, sizeof(conc), "%s%s%s", concrete, *concrete ? "." : "", info.name);
        if (info.type == TA_CTL_NODE)
            walk(pat, conc);
        else if ((info.mode & TA_CTL_READ) && info.type != TA_CTL_POINTER &&
                 !has_side_effect(conc))
            print_leaf(conc, &info);
    }
}

static void write_stdout(void *opaque, const char *text) { fputs(text, (FILE *)opaque); }

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--stats") == 0) {
        ta_stats_print(write_stdout, stdout, argv[2]);
        printf("--\n");
    } else if (argc != 1) {
        fprintf(stderr, "usage: ctl_dump [--stats LETTERS]\n");
        return 2;
    } else {
        uint64_t epoch = 1;
        int rc = ta_ctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
        if (rc != 0) {
            fprintf(stderr, "ctl_dump: epoch: %s\n", strerror(rc));
            return 1;
        }
    }
    walk("", "");
    return 0;
}
