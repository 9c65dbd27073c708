/* cordon-exit-only: a process that only exits, with no C library and no start-up code. The floor
 * under any exec on this machine; cordon-host-costs spawns it. x86-64 only. */
void _start(void) { __asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall"); }
