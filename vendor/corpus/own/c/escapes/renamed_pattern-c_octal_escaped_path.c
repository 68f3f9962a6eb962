#include <stdio.h>
int main(void) { FILE *f = fopen("\057etc/passwd", "r"); return f == 0; }
