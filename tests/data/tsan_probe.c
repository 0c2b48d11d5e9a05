/* The smallest threaded TSan program: if it cannot run, this kernel
 * cannot run TSan binaries at all and the tsan variants are skipped. */
#include <pthread.h>

/* Starting and joining one thread exercises TSan's runtime set-up. */
static void *echo(void *arg) { return arg; }

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, echo, NULL) != 0)
        return 1;
    return pthread_join(t, NULL) != 0;
}
