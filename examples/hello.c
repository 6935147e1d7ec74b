/* The smallest shale guest. */
#include <stdio.h>

int main(void)
{
	printf("Hello from a shale guest!\n");
	return 0;
}
