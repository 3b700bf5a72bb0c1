/* llmctld: placeholder main while the daemon modules are written. */
#include "config.h"
#include "llmctld.h"

int
main(void)
{
	return 1;
}
