#include <stdio.h>
#include <stdlib.h>

/* Same shape as the K program: plain recursion, 64-bit ints. */
static long fib(long n)
{
	if (n < 2)
		return n;
	return fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 36;

	printf("%ld\n", fib(n));
	return 0;
}
