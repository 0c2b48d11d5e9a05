/* Intrusive doubly-linked lists, the one implementation every core list
 * uses. An element carries its own link pointers (member names given
 * once, to the generator), so listing it allocates nothing, and removing
 * it needs only the element.
 *
 * LIST_DEFINE(name, type, next, prev): a NULL-terminated list reached
 * from a head pointer (type *head, NULL when empty). Invariants: the
 * head's prev is NULL; for every listed x, x->next->prev == x when
 * x->next is not NULL; an element is on at most one list per link pair.
 * Generates name_push (at the head) and name_remove.
 *
 * RING_DEFINE(name, type, next, prev): a circular list around a sentinel
 * element that is never an entry (empty: the sentinel points at itself),
 * for lists kept in order with O(1) insertion anywhere. Generates
 * name_init, name_insert_after and name_remove.
 *
 * Neither locks: the caller holds whatever guards the list. */
#ifndef TA_LIST_H
#define TA_LIST_H

#define LIST_DEFINE(name, type, next, prev)                                                   \
    static inline void name##_push(type **head, type *e)                                      \
    {                                                                                         \
        e->prev = NULL;                                                                       \
        e->next = *head;                                                                      \
        if (*head)                                                                            \
            (*head)->prev = e;                                                                \
        *head = e;                                                                            \
    }                                                                                         \
    static inline void name##_remove(type **head, type *e)                                    \
    {                                                                                         \
        if (e->prev)                                                                          \
            e->prev->next = e->next;                                                          \
        else                                                                                  \
            *head = e->next;                                                                  \
        if (e->next)                                                                          \
            e->next->prev = e->prev;                                                          \
    }

#define RING_DEFINE(name, type, next, prev)                                                   \
    static inline void name##_init(type *sentinel)                                            \
    {                                                                                         \
        sentinel->next = sentinel->prev = sentinel;                                           \
    }                                                                                         \
    static inline void name##_insert_after(type *pos, type *e)                                \
    {                                                                                         \
        e->prev = pos;                                                                        \
        e->next = pos->next;                                                                  \
        pos->next->prev = e;                                                                  \
        pos->next = e;                                                                        \
    }                                                                                         \
    static inline void name##_remove(type *e)                                                 \
    {                                                                                         \
        e->prev->next = e->next;                                                              \
        e->next->prev = e->prev;                                                              \
    }

#endif
