/* Assertions of the engine's documented invariants, for the debug build
 * (-DTA_DEBUG): a failed one names itself on stderr and aborts. In other
 * builds they compile to nothing, though the condition is still parsed
 * (inside sizeof), so variables used only in assertions are not unused. */
#ifndef TA_DEBUG_H
#define TA_DEBUG_H

#ifdef TA_DEBUG
__attribute__((noreturn, visibility("hidden"))) void tai_assert_fail(const char *file, int line,
                                                                     const char *expr);
#define TA_ASSERT(cond) ((cond) ? (void)0 : tai_assert_fail(__FILE__, __LINE__, #cond))
#else
#define TA_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
