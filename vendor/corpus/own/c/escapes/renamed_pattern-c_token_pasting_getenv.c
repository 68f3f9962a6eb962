#include <stdio.h>
#include <stdlib.h>
#define J(a, b) a##b
int main(void) { puts(J(get, env)("HOME")); }
