/* Prints the control namespace reference as a Markdown table, generated
 * from ta_ctl_child so the documentation cannot drift from the code. One
 * row per leaf, plus one per index component (whose doc says what the
 * index ranges over). tools/gen_ctl_doc.py puts the table in place. */
#include <stdio.h>
#include <string.h>

#include "tunalloc.h"

static const char *type_name(ta_ctl_type t)
{
    switch (t) {
    case TA_CTL_BOOL:
        return "`bool`";
    case TA_CTL_UNSIGNED:
        return "`unsigned`";
    case TA_CTL_SIZE:
        return "`size_t`";
    case TA_CTL_SSIZE:
        return "`ssize_t`";
    case TA_CTL_UINT64:
        return "`uint64_t`";
    case TA_CTL_STRING:
        return "`const char *`";
    case TA_CTL_POINTER:
        return "`void *` in, `unsigned` out";
    case TA_CTL_ACTION:
        return "action";
    default:
        return "node";
    }
}

static const char *mode_name(const ta_ctl_info *info)
{
    if (info->type == TA_CTL_ACTION || info->type == TA_CTL_NODE)
        return "--";
    if ((info->mode & TA_CTL_READ) && (info->mode & TA_CTL_WRITE))
        return "rw";
    return (info->mode & TA_CTL_READ) ? "r" : "w";
}

static int walk(const char *node)
{
    ta_ctl_info info;
    size_t k = 0;
    for (; ta_ctl_child(node, k, &info) == 0; k++) {
        char name[256];
        snprintf(name, sizeof(name), "%s%s%s", node, *node ? "." : "", info.name);
        if (info.type != TA_CTL_NODE || info.name[0] == '<')
            printf("| `%s` | %s | %s | %s |\n", name, type_name(info.type), mode_name(&info),
                   info.doc);
        if (info.type == TA_CTL_NODE && walk(name) != 0)
            return 1;
    }
    return k == 0 ? 1 : 0;
}

int main(void)
{
    printf("| Name | Type | Access | Description |\n");
    printf("|------|------|--------|-------------|\n");
    if (walk("") != 0) {
        fprintf(stderr, "gen_ctl_doc: a node of the namespace has no children\n");
        return 1;
    }
    return 0;
}
