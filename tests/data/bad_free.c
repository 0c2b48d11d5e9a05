/* Hands every kind of bad pointer to the preloaded free, free_sized and
 * realloc; under TUNALLOC_CONF=check:true each must be reported and
 * ignored, and the program must reach its last line. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int static_word;

typedef void free_sized_fn(void *p, size_t size);

/* Through a volatile pointer, so the compiler cannot see which object a
 * bad free gets and warn or drop the call. */
static void *volatile launder;

static void *hide(void *p)
{
    launder = p;
    return launder;
}

int main(void)
{
    int local = 0;
    free_sized_fn *free_sized = (free_sized_fn *)dlsym(RTLD_DEFAULT, "free_sized");
    if (!free_sized)
        return 2;
    char *p = malloc(100);
    void *again = hide(p);
    free(hide(p + 8));               /* interior pointer */
    free(hide(&local));              /* stack */
    free(hide(&static_word));        /* static data */
    free(hide((void *)0x1000));      /* unmapped */
    free(p);
    free(again);                     /* double free */
    char *q = malloc(50);
    free_sized(q, 5000);             /* wrong size */
    free_sized(hide(&static_word), 4);
    errno = 0;
    void *r = realloc(hide(&local), 10);
    printf("survived realloc=%p errno=%d\n", r, errno);
    return 0;
}
