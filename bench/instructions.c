/* Wasm instructions per operation, counted, not timed: this module runs under wabt's
 * wasm-interp with --trace, which prints one line per instruction executed, and
 * bench/instructions.sh subtracts a run of BATCHES batches from one of twice as many, so that
 * start-up and the first batch's memory growth drop out. A count does not move with the
 * machine's load (the timed benchmark's runs spread up to 2x here); it does not see cache
 * misses or what V8 makes of each instruction.
 *
 * Calls only malloc, free and posix_memalign, so any allocator links: a WASI reactor or an
 * Emscripten module run with every import a stub (nothing here prints or grows memory).
 *   WORKLOAD 1: small LIFO, batches of 100 posix_memalign(16, 32), freed newest first;
 *   WORKLOAD 2: churn, 1,000 live blocks of 16..256 B; each step frees one at random and
 *               allocates one in its place (a batch: 100 steps). */
#include <stddef.h>
#include <stdint.h>

void* malloc(size_t size);
void free(void* ptr);
int posix_memalign(void** out, size_t alignment, size_t size);

#define BATCH 100
#define CHURN_LIVE 1000

static void* slots[CHURN_LIVE];
static uint32_t state = 20261207u;

static uint32_t below(uint32_t bound) { /* xorshift32 */
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state % bound;
}

/* A block's first byte is written, as a program would, so no allocator can skip the memory. */
static void* claim(void* ptr) {
  if (ptr == NULL)
    __builtin_trap();
  *(volatile unsigned char*)ptr = 1;
  return ptr;
}

__attribute__((export_name("run"))) void run(void) {
#if WORKLOAD == 1
  for (int batch = 0; batch < BATCHES; ++batch) {
    for (int slot = 0; slot < BATCH; ++slot)
      if (posix_memalign(&slots[slot], 16, 32) != 0 || !claim(slots[slot]))
        __builtin_trap();
    for (int slot = BATCH - 1; slot >= 0; --slot)
      free(slots[slot]);
  }
#elif WORKLOAD == 2
  for (int slot = 0; slot < CHURN_LIVE; ++slot)
    slots[slot] = claim(malloc(16 + below(241)));
  for (int batch = 0; batch < BATCHES; ++batch)
    for (int step = 0; step < BATCH; ++step) {
      uint32_t slot = below(CHURN_LIVE);
      free(slots[slot]);
      slots[slot] = claim(malloc(16 + below(241)));
    }
#else
#error "WORKLOAD: 1 (small LIFO) or 2 (churn)"
#endif
}
