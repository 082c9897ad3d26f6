// A native program for `leakguard attach` tests: "leak" keeps 512 bytes
// per iteration forever; "bounded" cycles through a fixed ring of blocks;
// "short" leaks for 10000 iterations (a few seconds) and exits. All churn
// short-lived blocks. It prints "ready" once running, then runs
// until killed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile sink;
static void *ring[64];

__attribute__((noinline)) void native_leak(void) {
	void *p = malloc(512);
	memset(p, 1, 512);
	sink = p; /* never freed */
}

__attribute__((noinline)) void native_ring(long i) {
	free(ring[i % 64]);
	ring[i % 64] = malloc(512);
}

__attribute__((noinline)) void native_churn(void) {
	void *p = malloc(128);
	sink = p;
	free(p);
}

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "";
	int leak = strcmp(mode, "leak") == 0 || strcmp(mode, "short") == 0;
	long n = strcmp(mode, "short") == 0 ? 10000 : -1;
	/* Tells the test that the C library is mapped and probes can attach. */
	printf("ready\n");
	fflush(stdout);
	for (long i = 0; i != n; i++) {
		if (leak)
			native_leak();
		else
			native_ring(i);
		native_churn();
		usleep(200);
	}
	return 0;
}
