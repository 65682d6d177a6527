/* dead_letters: `sluice dead-letters list|redrive|purge` over a data dir's store. */
#ifndef SL_DEAD_LETTERS_H
#define SL_DEAD_LETTERS_H

#include "core/buf.h"

/* argv[0] is the subcommand. Returns the process exit code. */
int sl_dead_letters_main(int argc, char **argv);

#endif
