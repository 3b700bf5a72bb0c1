/* timer: a one-shot timer on the event loop; scheduling again replaces it. */
#ifndef LLMCTLD_TIMER_H
#define LLMCTLD_TIMER_H

#include <stdint.h>

struct event_base;
struct timer;

struct timer *timer_new(struct event_base *, void (*)(void *), void *);
void timer_schedule(struct timer *, int64_t ms);
void timer_free(struct timer *);

#endif
