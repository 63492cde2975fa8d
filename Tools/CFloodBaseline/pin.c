/* CPU pinning for the benchmarks (sched_setaffinity needs the CPU_SET macros, which Swift
   cannot call). */
#define _GNU_SOURCE
#include "cflood.h"
#include <errno.h>
#include <sched.h>

int pin_to_cpu(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return -EINVAL;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -errno;
}
