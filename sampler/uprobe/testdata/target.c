// A C program driven line by line on stdin, so tests synchronise with it
// without sleeping: each command runs to completion before "ok" is printed.
// "line:" comments mark the lines the DWARF tests expect in stacks.
//
//   step N   leaks (in leak_here, when started with "leak") and churns N blocks
//   churn N  runs N malloc/free pairs (the benchmark's workload)
//   quit     exits
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEAK_SIZE 1000
#define EARLY_SIZE 777

static int leaking;
static void *volatile sink;
static void *volatile early;

__attribute__((noinline)) void leak_here(void) {
	void *p = malloc(LEAK_SIZE); /* line: leak_here's malloc */
	memset(p, 1, LEAK_SIZE);
	sink = p; /* never freed */
}

/* Runs before "ready": only a sampler attached before the program started
 * (Start) sees it. */
__attribute__((noinline)) void early_here(void) {
	early = malloc(EARLY_SIZE);
	memset(early, 2, EARLY_SIZE);
}

__attribute__((noinline)) void churn_here(void) {
	void *p = malloc(64);
	sink = p;
	free(p);
}

__attribute__((noinline)) void churn_calloc_realloc(void) {
	void *p = calloc(4, 32);
	p = realloc(p, 256);
	sink = p;
	free(p);
}

int main(int argc, char **argv) {
	char line[128];
	leaking = argc > 1 && strcmp(argv[1], "leak") == 0;
	early_here();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(line, sizeof line, stdin)) {
		long n = 0;
		if (sscanf(line, "step %ld", &n) == 1) {
			for (long i = 0; i < n; i++) {
				if (leaking)
					leak_here(); /* line: main calls leak_here */
				churn_here();
				churn_calloc_realloc();
			}
		} else if (sscanf(line, "churn %ld", &n) == 1) {
			for (long i = 0; i < n; i++)
				churn_here();
		} else if (strncmp(line, "quit", 4) == 0) {
			return 0;
		}
		printf("ok\n");
	}
	return 0;
}
