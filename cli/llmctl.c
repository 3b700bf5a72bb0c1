/* llmctl: placeholder main while the CLI modules are written. */
#include "config.h"

int
main(void)
{
	return 1;
}
