/* llmctld: the daemon's shared context (filled in by the daemon modules). */
#ifndef LLMCTLD_H
#define LLMCTLD_H
#endif
