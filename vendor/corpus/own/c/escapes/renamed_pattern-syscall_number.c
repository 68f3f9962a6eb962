#include <sys/syscall.h>
long syscall(long, ...);
int main(void) { return (int) syscall(SYS_getpid); }
